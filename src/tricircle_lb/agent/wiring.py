"""An embedded host's own cables: its namespace and its links to the underlay switch.

A real host's NICs are hardware the agent never builds. An embedded host is
a namespace wired to the deployment's underlay switch (a namespace too) by
veth pairs, and like a rebooted machine it can lose all of it: ``ip netns
delete``, a crash of whatever held it. So its agent rebuilds them, every
round it finds them gone, from the same plan the deployment built them with
(``dataplane/underlay.py``): the switch namespace and its bridges if missing,
the host namespace, ``ul0`` with the VTEP address and one trunk per physical
network.
"""

from __future__ import annotations

import logging

from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.dataplane.interface import Dataplane, Link
from tricircle_lb.dataplane.underlay import Underlay, UnderlayHost, UnderlaySpec

LOG = logging.getLogger(__name__)


class HostWiring:
    def __init__(self, dataplane: Dataplane, spec: UnderlaySpec) -> None:
        self.spec = spec
        self.host: UnderlayHost = spec.hosts[0]
        self.devices = Underlay.host_devices(spec)
        self._underlay = Underlay(spec, dataplane)
        self._dp = dataplane

    @classmethod
    def from_config(cls, config: AgentConfig, dataplane: Dataplane) -> HostWiring | None:
        """The wiring of an embedded host; None for a real one (no underlay namespace)."""
        if not (config.underlay_namespace and config.underlay_cidr and config.host_namespace):
            return None
        host = UnderlayHost(config.host, config.tunnel_ip, config.host_namespace,
                            config.host_number)
        # interface_mappings() numbers the physnets in sorted order: pn0, pn1, ...
        spec = UnderlaySpec((host,), tuple(config.physical_interface_mappings),
                            config.underlay_cidr, config.underlay_namespace)
        return cls(dataplane, spec)

    def broken(self, links: dict[str, Link]) -> list[str]:
        """The host's cables that are missing or down."""
        return [d for d in self.devices if d not in links or not links[d].up]

    def reachable(self, links: dict[str, Link]) -> bool:
        """Every cable has carrier: its switch end exists and is up."""
        return all(d in links and links[d].carrier for d in self.devices)

    def repair(self) -> None:
        """Build whatever is missing of the switch, the host namespace and its cables."""
        if not self._underlay.switch_present():
            LOG.warning("underlay switch %s is gone: rebuilding it", self.spec.namespace)
        self._underlay.ensure_switch()
        self._underlay.ensure_host(self.host)
