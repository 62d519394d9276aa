"""Building, plugging and removing one amphora: the steps the flows are made of.

Every step is idempotent and records what it made on the amphora's row in
its own transaction before going on, so a flow resumed after ``kill -9``
finds the ports and the server again (by id, or by the name it gave them)
instead of making second ones.

The amphora's ports, as Octavia's allowed-address-pairs model has them:

- ``eth0`` on the region's management network (``lb-mgmt-netN``, in
  ``lb-mgmt-sec-grp``): the controller reaches the amphora agent there and
  the agent sends its heartbeats to the health manager;
- ``eth1``, the VRRP port, on the VIP's network, with the VIP (held by the
  VIP port at central) as an allowed address pair;
- one port per member network the VIP network is not, attached later
  through compute's interface attach (``plugged_networks``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tricircle_lb.db import Database
from tricircle_lb.jobs import PermanentJobError
from tricircle_lb.loadbalancer import keys
from tricircle_lb.loadbalancer.config import HealthManagerConfig, LoadBalancerConfig
from tricircle_lb.loadbalancer.controller.amphora_tls import CertificateSource
from tricircle_lb.loadbalancer.drivers.amphora import (
    AmphoraClient,
    AmphoraError,
    AmphoraUnreachable,
)
from tricircle_lb.loadbalancer.drivers.compute import ComputeDriver, ComputeNotFound
from tricircle_lb.loadbalancer.drivers.network import NetworkDriver, NetworkNotFound
from tricircle_lb.loadbalancer.models import Amphora, AmphoraRole, AmphoraStatus, LoadBalancer

LOG = logging.getLogger(__name__)
POLL = 0.2
# While an amphora boots, its first packets may wait for forwarding entries:
# poll with short requests rather than sit in one long timeout.
PROBE_TIMEOUT = 1.0
# Octavia's VRRP settings: unicast peers make one router id per pair enough.
MASTER_PRIORITY, BACKUP_PRIORITY, VRRP_ID = 100, 90, 1
PAIR_ROLES = (AmphoraRole.MASTER.value, AmphoraRole.BACKUP.value)
# After a handover, requests in flight on the old holder finish before it goes.
HANDOVER_GRACE = 1.0
# The survivor preempts on the holder's next advertisement (advert_int 1 s).
HANDOVER_TIMEOUT = 10.0


def on_every(amps: list[Amphora], step: Callable[[Amphora], object]) -> None:
    """``step`` on every amphora, also past one that does not answer (the others
    serve sooner); the first :class:`AmphoraUnreachable` is raised at the end."""
    unreachable: list[AmphoraUnreachable] = []
    for amp in amps:
        try:
            step(amp)
        except AmphoraUnreachable as exc:
            LOG.warning("amphora %s does not answer: %s", amp.id, exc)
            unreachable.append(exc)
    if unreachable:
        raise unreachable[0]


@dataclass(frozen=True)
class Vip:
    address: str
    prefixlen: int
    network_id: str
    subnet_id: str
    port_id: str  # the VIP port at central (Octavia's ha_port_id)


def mgmt_port_name(amphora_id: str) -> str:
    return f"octavia-lb-mgmt-{amphora_id}"


def vrrp_port_name(amphora_id: str) -> str:
    return f"octavia-lb-vrrp-{amphora_id}"


def member_port_name(amphora_id: str, network_id: str) -> str:
    return f"octavia-amp-{amphora_id}-net-{network_id}"


class AmphoraOps:
    def __init__(self, db: Database, cfg: LoadBalancerConfig, hm: HealthManagerConfig,
                 network: NetworkDriver, compute: ComputeDriver, agent: AmphoraClient,
                 certificates: CertificateSource | None = None,
                 log_port: int | None = None) -> None:
        self.db = db
        # The port the region receives amphorae's logs on, at the health manager's
        # address ([amphora_logs]); None: amphorae are told no log targets.
        self.log_port = log_port
        # Where the certificates TLS listeners and pools name are read (amphora_tls).
        self.certificates = certificates
        self.cfg = cfg
        self.hm = hm
        self.network = network
        self.compute = compute
        self.agent = agent

    # Looking things up ------------------------------------------------------
    def agent_key(self, amp: Amphora) -> str:
        """The key ``amp``'s agent holds (its own; the deployment's if booted before)."""
        return keys.agent_key(amp.agent_key, self.hm.heartbeat_key)

    def agent_for(self, amp: Amphora, timeout: float | None = None) -> AmphoraClient:
        """The agent client for ``amp``: signs with its key (another amphora's is refused)."""
        client = self.agent.with_key(self.agent_key(amp).encode())
        return client if timeout is None else client.with_timeout(timeout)

    def vip(self, lb: LoadBalancer) -> Vip:
        subnet = self.network.get_subnet(str(lb.vip_subnet_id))
        prefix = ipaddress.ip_network(subnet.cidr).prefixlen
        return Vip(str(lb.vip_address), prefix, subnet.network_id, subnet.id,
                   str(lb.vip_port_id or ""))

    def _mgmt_network_id(self) -> str:
        net = self.network.find_network(self.cfg.mgmt_network_name)
        if net is None:
            raise PermanentJobError(f"management network {self.cfg.mgmt_network_name!r} "
                                    "not found: run the deployment's bootstrap")
        return net

    def _health_manager_address(self) -> str:
        port = self.network.find_port(self.cfg.health_manager_port_name)
        if port is None or not port.ip_address:
            raise PermanentJobError(f"health-manager port {self.cfg.health_manager_port_name!r} "
                                    "not found: run the deployment's bootstrap")
        return port.ip_address

    def _save(self, amphora_id: str, **changes: object) -> None:
        with self.db.write() as session:
            amp = session.get(Amphora, amphora_id)
            if amp is None:
                raise PermanentJobError(f"amphora {amphora_id} vanished")
            for key, value in changes.items():
                setattr(amp, key, value)

    # Building ----------------------------------------------------------------
    def build(self, amp: Amphora, vip: Vip, *, avoid_hosts: frozenset[str] = frozenset(),
              holds_vip: bool = True) -> None:
        """Ports, server, agent up, VIP plugged. ``amp`` is a detached snapshot.

        ``avoid_hosts``: where the amphora must not run (its VRRP peer: anti-affinity).
        ``holds_vip``: the agent adds the VIP itself (SINGLE); else keepalived owns it.
        """
        if not amp.mgmt_port_id:
            groups: tuple[str, ...] = ()
            group = self.network.find_security_group(self.cfg.mgmt_security_group)
            if group:
                groups = (group,)
            port = self.network.create_port(name=mgmt_port_name(amp.id), project_id="",
                                            network_id=self._mgmt_network_id(),
                                            security_groups=groups)
            self._save(amp.id, mgmt_port_id=port.id, lb_network_ip=port.ip_address)
            amp.mgmt_port_id, amp.lb_network_ip = port.id, port.ip_address
        if not amp.vrrp_port_id:
            port = self.network.create_port(name=vrrp_port_name(amp.id), project_id="",
                                            network_id=vip.network_id, subnet_id=vip.subnet_id,
                                            allowed_address_pairs=(vip.address,))
            self._save(amp.id, vrrp_port_id=port.id, vrrp_ip=port.ip_address, ha_ip=vip.address,
                       ha_port_id=vip.port_id or None)
            amp.vrrp_port_id, amp.vrrp_ip = port.id, port.ip_address
        if not amp.compute_id:
            image = self.compute.find_image(self.cfg.amp_image_name)
            server = self.compute.boot(
                amphora_id=amp.id, image=image, flavor=self.cfg.amp_flavor_id,
                port_ids=(amp.mgmt_port_id, amp.vrrp_port_id),
                user_data=self._agent_config(amp).encode(),
                availability_zone=self._placement(amp.id, avoid_hosts))
            self._save(amp.id, compute_id=server.id, image_id=image,
                       compute_flavor=self.cfg.amp_flavor_id)
            amp.compute_id = server.id
        host = self._wait_active(amp.compute_id)
        self._save(amp.id, cached_zone=host)
        amp.cached_zone = host
        self._wait_agent(amp)
        vrrp = self.network.get_port(amp.vrrp_port_id)
        interface = self.agent_for(amp).plug_vip(str(amp.lb_network_ip), vip.address,
                                                 vip.prefixlen, vrrp.mac_address,
                                                 address=holds_vip)
        self._save(amp.id, vrrp_interface=interface)

    def _placement(self, amphora_id: str, avoid: frozenset[str]) -> str | None:
        """``zone:host`` away from ``avoid`` (compute's own choice when nothing to avoid)."""
        zone = self.cfg.availability_zone or None
        if not avoid:
            return zone
        candidates = [h for h in self.compute.hosts() if h not in avoid]
        if not candidates:
            raise PermanentJobError(
                f"ACTIVE_STANDBY needs two hosts in {self.cfg.region_name}: every host "
                f"({', '.join(sorted(avoid))}) already runs this load balancer's other amphora")
        # Spread pairs over the hosts, the same choice on every retry.
        host = candidates[int(amphora_id.replace("-", "")[:8], 16) % len(candidates)]
        return f"{zone or ''}:{host}"

    def reachable(self, amp: Amphora, attempts: int = 3) -> bool:
        """Whether the amphora's agent answers (a few short tries)."""
        probe = self.agent_for(amp, PROBE_TIMEOUT * 2)
        for attempt in range(attempts):
            try:
                probe.info(str(amp.lb_network_ip))
                return True
            except AmphoraError:
                if attempt + 1 < attempts:
                    time.sleep(PROBE_TIMEOUT)
        return False

    def retire(self, amp: Amphora) -> None:
        """Mark the amphora for replacement (the flow removes it once its successor serves)."""
        self._save(amp.id, status=AmphoraStatus.PENDING_DELETE.value)
        amp.status = AmphoraStatus.PENDING_DELETE.value

    # VRRP ----------------------------------------------------------------------
    def holds_vip(self, amp: Amphora) -> bool:
        """Whether keepalived in ``amp`` is MASTER now (False if it cannot say)."""
        try:
            info = self.agent_for(amp, PROBE_TIMEOUT * 2).info(str(amp.lb_network_ip))
        except AmphoraError:
            return False
        return info.get("vrrp_state") == "MASTER"

    def configure_vrrp(self, amps: list[Amphora], vip: Vip, lb_id: str) -> None:
        """keepalived on each amphora of a pair: unicast VRRP to the other (Octavia's way).

        Every amphora that answers is configured even when one does not: after a
        double failure the one being built takes the VIP alone at once, and the
        flow, retried, replaces the dead one. The first failure is raised after."""
        password = self.vrrp_password(lb_id)
        on_every(amps, lambda amp: self._configure_vrrp_on(amp, amps, vip, password))

    def _configure_vrrp_on(self, amp: Amphora, pair: list[Amphora], vip: Vip, password: str,
                           *, priority: int | None = None, preempt: bool = False) -> None:
        if priority is None:
            priority = MASTER_PRIORITY if amp.role == AmphoraRole.MASTER.value \
                else BACKUP_PRIORITY
        vrrp = self.network.get_port(str(amp.vrrp_port_id))
        self.agent_for(amp).configure_vrrp(
            str(amp.lb_network_ip), vip=vip.address, prefixlen=vip.prefixlen,
            mac=vrrp.mac_address, vrrp_ip=str(amp.vrrp_ip),
            peers=[str(a.vrrp_ip) for a in pair if a.id != amp.id], priority=priority,
            vrid=VRRP_ID, advert_int=1, auth_pass=password, preempt=preempt)

    def hand_over(self, holder: Amphora, survivor: Amphora, vip: Vip, lb_id: str) -> bool:
        """Move the VIP from ``holder`` (about to go) to ``survivor``, make-before-break.

        The holder drops to the BACKUP priority and the survivor, at the MASTER
        priority, preempts: it adds the VIP and sends gratuitous ARPs before the
        holder, seeing the higher priority, lets the VIP go. Stopping the holder's
        keepalived instead would leave the VIP unheld for the survivor's skew time
        (0.65 s at priority 90), enough to lose a connection attempt. Then the
        holder's keepalived stops and the rows swap roles. False if the survivor
        did not take the VIP in time (the holder keeps it; removing it hands it over).
        """
        pair = [holder, survivor]
        password = self.vrrp_password(lb_id)
        self._configure_vrrp_on(holder, pair, vip, password, priority=BACKUP_PRIORITY)
        self._configure_vrrp_on(survivor, pair, vip, password, priority=MASTER_PRIORITY,
                                preempt=True)
        deadline = time.monotonic() + HANDOVER_TIMEOUT
        while not self.holds_vip(survivor) or self.holds_vip(holder):
            if time.monotonic() > deadline:
                LOG.warning("amphora %s did not take the VIP from %s within %.0f s",
                            survivor.id, holder.id, HANDOVER_TIMEOUT)
                return False
            time.sleep(POLL / 4)
        LOG.info("VIP %s handed over from amphora %s to %s", vip.address, holder.id,
                 survivor.id)
        self.stop_vrrp(holder)
        self.swap_roles(master=survivor, backup=holder)
        return True

    def swap_roles(self, *, master: Amphora, backup: Amphora) -> None:
        """Record that ``master`` holds the VIP now (``amphora list`` shows the truth)."""
        for amp, role in ((master, AmphoraRole.MASTER.value), (backup, AmphoraRole.BACKUP.value)):
            self._save(amp.id, role=role)
            amp.role = role

    def stop_vrrp(self, amp: Amphora) -> None:
        """Stop keepalived in ``amp`` (best effort: a dead amphora runs none)."""
        with contextlib.suppress(AmphoraError):
            self.agent_for(amp, PROBE_TIMEOUT * 2).stop_vrrp(str(amp.lb_network_ip))

    def vrrp_password(self, lb_id: str) -> str:
        """The load balancer's own VRRP password (keepalived PASS: 8 characters)."""
        with self.db.read() as session:
            lb = session.get(LoadBalancer, lb_id)
            own = lb.vrrp_auth_pass if lb is not None else None
        return keys.vrrp_password(own, lb_id, self.hm.heartbeat_key)

    def _agent_config(self, amp: Amphora) -> str:
        # Octavia's config drive carries amphora-agent.conf; our image reads user-data.
        # The agent listens on the management address only, as Octavia's bind_host.
        # Its key is its own (decision 076): it signs its heartbeats and checks our calls.
        return "\n".join([
            "[amphora_agent]",
            f"amphora_id = {amp.id}",
            f"bind_address = {amp.lb_network_ip}",
            f"agent_port = {self.cfg.amp_agent_port}",
            f"heartbeat_key = {self.agent_key(amp)}",
            f"controller_ip_port_list = {self._health_manager_address()}:{self.hm.bind_port}",
            f"heartbeat_interval = {self.hm.heartbeat_interval}",
            *self._log_targets(),
            "",
        ])

    def _log_targets(self) -> list[str]:
        """Octavia's log offloading options: both streams to the region's receiver."""
        if self.log_port is None:
            return []
        target = f"{self._health_manager_address()}:{self.log_port}"
        return [f"admin_log_targets = {target}", f"tenant_log_targets = {target}"]

    def _wait_active(self, server_id: str) -> str:
        deadline = time.monotonic() + self.cfg.amp_active_timeout
        while True:
            server = self.compute.get(server_id)
            if server.status == "ACTIVE":
                return server.host
            if server.status == "ERROR":
                raise PermanentJobError(f"amphora server {server_id} went to ERROR: "
                                        f"{server.fault or 'no fault recorded'}")
            if time.monotonic() > deadline:
                raise PermanentJobError(f"amphora server {server_id} not ACTIVE after "
                                        f"{self.cfg.amp_active_timeout:.0f}s "
                                        f"(status {server.status})")
            time.sleep(POLL)

    def _wait_agent(self, amp: Amphora) -> None:
        address = str(amp.lb_network_ip)
        deadline = time.monotonic() + self.cfg.amp_active_timeout
        probe = self.agent_for(amp, PROBE_TIMEOUT)
        while True:
            try:
                probe.info(address)
                return
            except AmphoraUnreachable as exc:
                if time.monotonic() > deadline:
                    raise PermanentJobError(f"amphora agent at {address} unreachable after "
                                            f"{self.cfg.amp_active_timeout:.0f}s: {exc}") from exc
                time.sleep(POLL)

    # Member networks -----------------------------------------------------------
    def plug_networks(self, amp: Amphora, wanted: dict[str, str], vip: Vip) -> None:
        """Attach a port for every network in ``wanted`` ({network: subnet}) not yet plugged."""
        plugged = dict(amp.plugged_networks or {})
        for network_id, subnet_id in sorted(wanted.items()):
            if network_id == vip.network_id:
                continue
            port_id = plugged.get(network_id)
            if not port_id:
                # The network is recorded before its port exists ("" until then): a
                # flow cut between the two finds the port by name, to use or delete.
                if port_id is None:
                    plugged[network_id] = ""
                    self._save(amp.id, plugged_networks=dict(plugged))
                port = self.network.create_port(
                    name=member_port_name(amp.id, network_id), project_id="",
                    network_id=network_id, subnet_id=subnet_id)
                port_id = port.id
                plugged[network_id] = port_id
                self._save(amp.id, plugged_networks=dict(plugged))
            self.compute.attach_port(str(amp.compute_id), port_id)
            mac = self.network.get_port(port_id).mac_address
            self.agent_for(amp).plug_network(str(amp.lb_network_ip), mac)
        amp.plugged_networks = plugged

    def unplug_networks(self, amp: Amphora, wanted: dict[str, str]) -> None:
        """Detach and delete the member-network ports no member needs any more."""
        plugged = dict(amp.plugged_networks or {})
        for network_id in sorted(plugged):
            if network_id in wanted:
                continue
            port_id = self._member_port(amp, network_id, plugged[network_id])
            if port_id:
                if amp.compute_id:
                    with contextlib.suppress(ComputeNotFound):
                        self.compute.detach_port(amp.compute_id, port_id)
                self.network.delete_port(port_id)
            del plugged[network_id]
            self._save(amp.id, plugged_networks=dict(plugged))
        amp.plugged_networks = plugged

    def _member_port(self, amp: Amphora, network_id: str, port_id: str) -> str | None:
        """The id of the amphora's port on ``network_id``, by name if never recorded."""
        if port_id:
            return port_id
        port = self.network.find_port(member_port_name(amp.id, network_id))
        return port.id if port is not None else None

    # Removing ------------------------------------------------------------------
    def remove(self, amp: Amphora) -> None:
        """Delete the server and every port of the amphora; the row ends DELETED.

        A live member of a VRRP pair first stops keepalived, which hands the VIP
        to its peer at once (priority 0) instead of after three missed adverts."""
        self._save(amp.id, status=AmphoraStatus.PENDING_DELETE.value)
        if amp.role in PAIR_ROLES and amp.lb_network_ip:
            held = self.holds_vip(amp)  # then no survivor took it over: give it up at once
            self.stop_vrrp(amp)
            if held:
                time.sleep(HANDOVER_GRACE)
        if amp.compute_id:
            self.compute.delete(amp.compute_id)
        members = [self._member_port(amp, net, port)
                   for net, port in (amp.plugged_networks or {}).items()]
        for port_id in [amp.mgmt_port_id, amp.vrrp_port_id, *members]:
            if port_id:
                with contextlib.suppress(NetworkNotFound):
                    self.network.delete_port(port_id)
        # A crash before the ids were saved leaves ports found only by name.
        for name in (mgmt_port_name(amp.id), vrrp_port_name(amp.id)):
            port = self.network.find_port(name)
            if port is not None:
                self.network.delete_port(port.id)
        self._save(amp.id, status=AmphoraStatus.DELETED.value, loadbalancer_id=None)
        LOG.info("amphora %s removed", amp.id)
