"""Removing what a deployment created outside its state directory.

``down`` calls :func:`cleanup` after every process is stopped: the data
plane's namespaces (named with the deployment's prefix, ``tcl-`` by default;
interfaces live inside them and go with them) and any process left in them
(an instance's mounts live in its own mount namespaces and go with its
processes), then the instances' cgroups (``tricircle-lb/<prefix>``). Each step must be
idempotent and tolerate objects that are already gone, because ``down`` is
safe to run twice and after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tricircle_lb.deploy.topology import Topology

LOG = logging.getLogger(__name__)

PREFIX = "tcl-"

Step = Callable[[Topology], list[str]]



def remove_namespaces(topology: Topology) -> list[str]:
    """Every namespace of this deployment (underlay, hosts, instances, probes) and
    every process left in one."""
    from tricircle_lb.dataplane.teardown import teardown_all
    from tricircle_lb.deploy.services import namespace_kinds

    removed: list[str] = []
    for kind in namespace_kinds(topology):
        removed += teardown_all(kind)
    return removed


def remove_cgroups(topology: Topology) -> list[str]:
    """The instances' cgroups (empty once their processes are gone)."""
    from tricircle_lb.guest.cgroups import remove_deployment

    return remove_deployment(topology.prefix)


# Each step returns a human-readable line per object removed.
STEPS: list[Step] = [remove_namespaces, remove_cgroups]


def cleanup(topology: Topology) -> list[str]:
    """Run every cleanup step; what was removed (failures are logged, not raised)."""
    removed: list[str] = []
    for step in STEPS:
        try:
            removed.extend(step(topology))
        except Exception:
            LOG.exception("cleanup step %s failed", getattr(step, "__name__", step))
    return removed
