"""The controller's flows: one handler per job kind of :mod:`.handoff`.

Every flow converges a load balancer to its rows: the amphorae it should
have exist and are plugged into every member network, HAProxy runs the
configuration rendered from the database, and then — only then — the
pending objects become ACTIVE (so ACTIVE means serving). A flow is a plain
sequence of idempotent steps; it may be cut anywhere (``kill -9``) and run
again from the start.

Failures: unreachable services are retried with backoff (the job queue);
a refusal, a timeout or the last attempt reverts what the flow was making
(a half-built amphora is removed) and ends the objects in ERROR, never in
``PENDING_*``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tricircle_lb.db import Database
from tricircle_lb.jobs import PermanentJobError
from tricircle_lb.loadbalancer.controller import (
    amphora_config,
    handoff,
    statuses,
    vip_security,
)
from tricircle_lb.loadbalancer.controller.amphora_ops import AmphoraOps, Vip, on_every
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraRefused, AmphoraUnreachable
from tricircle_lb.loadbalancer.drivers.compute import ComputeError, ComputeUnavailable
from tricircle_lb.loadbalancer.drivers.network import NetworkRefused
from tricircle_lb.loadbalancer.models import (
    Amphora,
    AmphoraRole,
    AmphoraStatus,
    Job,
    ListenerStatistics,
    LoadBalancer,
    ProvisioningStatus,
)

LOG = logging.getLogger(__name__)
_LIVE = (AmphoraStatus.BOOTING.value, AmphoraStatus.ALLOCATED.value)
ACTIVE_STANDBY = "ACTIVE_STANDBY"


def _roles(pair: bool) -> list[str]:
    if pair:
        return [AmphoraRole.MASTER.value, AmphoraRole.BACKUP.value]
    return [AmphoraRole.STANDALONE.value]
_PERMANENT = (PermanentJobError, AmphoraRefused, NetworkRefused)


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, ComputeError) and not isinstance(exc, ComputeUnavailable):
        return True
    return isinstance(exc, _PERMANENT)


class Flows:
    def __init__(self, db: Database, ops: AmphoraOps) -> None:
        self.db = db
        self.ops = ops

    def handlers(self) -> dict[str, Callable[[Job], None]]:
        return {
            handoff.LB_CREATE: self._guarded(self.converge),
            handoff.LB_APPLY: self._guarded(self.converge),
            handoff.LB_FAILOVER: self._guarded(self.failover_loadbalancer),
            handoff.AMPHORA_FAILOVER: self._guarded_amphora(self.failover_amphora),
            handoff.AMPHORA_RESTORE: self._guarded_amphora(self.restore_amphora),
            handoff.LB_DELETE: self.delete_loadbalancer,
            handoff.AMPHORA_DELETE: self.delete_amphora,
        }

    # Error handling: retry what may pass, end in ERROR what will not ---------------
    def _guarded(self, flow: Callable[[str], None]) -> Callable[[Job], None]:
        def run(job: Job) -> None:
            lb_id = str(job.payload["loadbalancer_id"])
            try:
                flow(lb_id)
            except Exception as exc:
                if not _permanent(exc) and job.attempts < job.max_attempts:
                    raise
                LOG.error("load balancer %s: %s failed: %s", lb_id, job.type, exc)
                self._revert(lb_id)
                raise PermanentJobError(str(exc)) from exc
        return run

    def _guarded_amphora(self, flow: Callable[[str], None]) -> Callable[[Job], None]:
        def run(job: Job) -> None:
            amphora_id = str(job.payload["amphora_id"])
            with self.db.read() as session:
                amp = session.get(Amphora, amphora_id)
                lb_id = amp.loadbalancer_id if amp is not None else None
            if lb_id is None:
                return  # already replaced and removed
            try:
                flow(amphora_id)
            except Exception as exc:
                if not _permanent(exc) and job.attempts < job.max_attempts:
                    raise
                LOG.error("amphora %s: failover failed: %s", amphora_id, exc)
                self._revert(lb_id)
                raise PermanentJobError(str(exc)) from exc
        return run

    def _revert(self, lb_id: str) -> None:
        """Remove amphorae that never served, then mark everything pending ERROR."""
        with self.db.read() as session:
            building = [a for a in _amphorae(session, lb_id)
                        if a.status == AmphoraStatus.BOOTING.value]
            session.expunge_all()
        for amp in building:
            try:
                self.ops.remove(amp)
            except Exception:  # best effort: the row stays for the next failover or delete
                LOG.exception("could not remove half-built amphora %s", amp.id)
        with self.db.write() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is not None:
                statuses.mark_error(lb)

    # Converge: create, apply, and the tail of every failover ------------------------
    def converge(self, lb_id: str) -> None:
        with self.db.read() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is None or lb.provisioning_status == ProvisioningStatus.PENDING_DELETE.value:
                return
            wanted_subnets = amphora_config.member_subnets(lb)
            everything = _amphorae(session, lb_id)
            amps = [a for a in everything if a.status in _LIVE]
            retiring = [a for a in everything if a.status == AmphoraStatus.PENDING_DELETE.value]
            pair = lb.topology == ACTIVE_STANDBY
            vip_rules = vip_security.rules(lb)
            vip_port = lb.vip_port_id if lb.vip_port_owned else None
            session.expunge_all()
        vip = self.ops.vip(lb)
        vip_group = vip_security.ensure(self.ops.network, lb_id, vip_rules)
        # An amphora that died while this flow waited (its failover could not start
        # while the load balancer was pending) is replaced here, not retried forever.
        for amp in [a for a in amps if a.status == AmphoraStatus.ALLOCATED.value]:
            if not self.ops.reachable(amp):
                LOG.warning("amphora %s of load balancer %s does not answer: replacing it",
                            amp.id, lb_id)
                self.ops.retire(amp)
                amps.remove(amp)
                retiring.append(amp)
        if pair:
            self._keep_vip_on_survivor(lb_id, vip, amps, retiring)
        have = {a.role for a in amps}
        amps += [self._new_amphora(lb_id, role) for role in _roles(pair) if role not in have]
        wanted = {self.ops.network.get_subnet(s).network_id: s for s in sorted(wanted_subnets)}
        for amp in amps:
            if amp.status == AmphoraStatus.BOOTING.value:
                peers = frozenset(str(a.cached_zone) for a in amps
                                  if a.id != amp.id and a.cached_zone) if pair else frozenset()
                self.ops.build(amp, vip, avoid_hosts=peers, holds_vip=not pair)
            self.ops.plug_networks(amp, wanted, vip)
        vip_security.attach(self.ops.network, vip_group,
                            [str(a.vrrp_port_id) for a in amps if a.vrrp_port_id], vip_port)
        try:
            self._push_config(lb_id, amps)
        except AmphoraUnreachable:
            if pair:  # a peer died meanwhile: the amphorae that answer take the VIP now
                with contextlib.suppress(AmphoraUnreachable):
                    self.ops.configure_vrrp(amps, vip, lb_id)
            raise
        if pair:
            self.ops.configure_vrrp(amps, vip, lb_id)
        for amp in amps:
            self.ops.unplug_networks(amp, wanted)
        for amp in retiring:
            self.ops.remove(amp)
        with self.db.write() as session:
            for amp in amps:
                row = session.get(Amphora, amp.id)
                if row is not None and row.status == AmphoraStatus.BOOTING.value:
                    row.status = AmphoraStatus.ALLOCATED.value
            fresh = session.get(LoadBalancer, lb_id)
            if fresh is not None:
                statuses.mark_active(session, fresh)
        LOG.info("load balancer %s converged (%d amphorae)", lb_id, len(amps))

    def _keep_vip_on_survivor(self, lb_id: str, vip: Vip, amps: list[Amphora],
                              retiring: list[Amphora]) -> None:
        """Before a pair's amphora is replaced, its serving peer holds the VIP and the
        MASTER role (its replacement is then built as BACKUP): a live VIP holder hands
        the VIP over; one that failed already lost it to keepalived, so only the roles
        change. The retiring amphorae's keepalived stops, so none of them takes the VIP
        back once its peer stops advertising to it."""
        survivor = next((a for a in amps if a.status == AmphoraStatus.ALLOCATED.value), None)
        for old in retiring:
            held = self.ops.holds_vip(old)
            if survivor is not None and held:
                if self.ops.hand_over(old, survivor, vip, lb_id):
                    continue
            elif survivor is not None and old.role == AmphoraRole.MASTER.value:
                self.ops.swap_roles(master=survivor, backup=old)
            if not held:
                self.ops.stop_vrrp(old)

    def _new_amphora(self, lb_id: str, role: str) -> Amphora:
        with self.db.write() as session:
            amp = Amphora(loadbalancer_id=lb_id, status=AmphoraStatus.BOOTING.value, role=role)
            session.add(amp)
            session.flush()
            session.expunge(amp)
            return amp

    def _push_config(self, lb_id: str, amps: list[Amphora]) -> None:
        with self.db.read() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is None:
                return
            config = amphora_config.build(lb, self.ops.certificates)
        on_every(amps, lambda amp: self.ops.agent_for(amp).put_config(str(amp.lb_network_ip),
                                                                      config))

    # Failover ---------------------------------------------------------------
    def failover_amphora(self, amphora_id: str) -> None:
        """Retire the amphora and converge: a new one is built, the old one removed."""
        with self.db.write() as session:
            amp = session.get(Amphora, amphora_id)
            if amp is None or amp.loadbalancer_id is None:
                return
            if amp.status == AmphoraStatus.ALLOCATED.value:
                amp.status = AmphoraStatus.PENDING_DELETE.value
            lb_id = amp.loadbalancer_id
        self.converge(lb_id)

    def restore_amphora(self, amphora_id: str) -> None:
        """An amphora its host started again after losing it (its namespace was made
        anew) answers without VIP or configuration: an Octavia amphora reloads both from
        its disk after a reboot; this one gets them from here. If it does not answer,
        converge replaces it as a failover would."""
        with self.db.read() as session:
            amp = session.get(Amphora, amphora_id)
            if amp is None or amp.loadbalancer_id is None \
                    or amp.status != AmphoraStatus.ALLOCATED.value:
                return
            lb = session.get(LoadBalancer, amp.loadbalancer_id)
            if lb is None:
                return
            lb_id, pair = lb.id, lb.topology == ACTIVE_STANDBY
            session.expunge_all()
        vip = self.ops.vip(lb)
        try:
            if not self.ops.reachable(amp) or not amp.vrrp_port_id:
                raise AmphoraUnreachable(f"amphora {amp.id} does not answer")
            mac = self.ops.network.get_port(amp.vrrp_port_id).mac_address
            self.ops.agent_for(amp).plug_vip(str(amp.lb_network_ip), vip.address,
                                             vip.prefixlen, mac, address=not pair)
        except AmphoraUnreachable as exc:
            LOG.warning("restoring amphora %s failed (%s): failing it over", amp.id, exc)
            self.failover_amphora(amp.id)
            return
        LOG.info("amphora %s came back without its configuration: restoring it", amp.id)
        self.converge(lb_id)

    def failover_loadbalancer(self, lb_id: str) -> None:
        """Replace the amphorae one at a time, the one holding the VIP last: the VIP is
        always held by a serving amphora (a controlled swap)."""
        with self.db.read() as session:
            # Only amphorae that served: a retried job must not retire the replacements
            # it is building (each retry would boot yet another amphora).
            live = [a for a in _amphorae(session, lb_id)
                    if a.status == AmphoraStatus.ALLOCATED.value]
            session.expunge_all()
        order = sorted(live, key=self.ops.holds_vip)  # False (standby) first
        for amp in order:
            self.failover_amphora(amp.id)

    # Delete -------------------------------------------------------------------
    def delete_loadbalancer(self, job: Job) -> None:
        """Remove amphorae, the VIP port, then the rows. Everything it deletes is
        deleted idempotently, so it is retried until done or out of attempts; then
        the job queue's failure listener makes the load balancer ERROR (sweeper.py),
        and it can be deleted again."""
        lb_id = str(job.payload["loadbalancer_id"])
        with self.db.read() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is None:
                return
            amps = [a for a in _amphorae(session, lb_id) if a.status != AmphoraStatus.DELETED]
            vip_port_id = lb.vip_port_id if lb.vip_port_owned else None  # not a user's port
            session.expunge_all()
        for amp in amps:
            self.ops.remove(amp)
        if vip_port_id:
            self.ops.network.delete_port(vip_port_id)
        vip_security.delete(self.ops.network, lb_id)
        with self.db.write() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is not None:
                listener_ids = [li.id for li in lb.listeners]
                if listener_ids:
                    session.execute(delete(ListenerStatistics).where(
                        ListenerStatistics.listener_id.in_(listener_ids)))
                for listener in lb.listeners:
                    listener.default_pool_id = None
                session.flush()
                session.delete(lb)
        LOG.info("load balancer %s deleted", lb_id)


    def delete_amphora(self, job: Job) -> None:
        """Remove an amphora the admin deleted (it was ERROR): its server and ports,
        idempotently; the row ends DELETED."""
        with self.db.read() as session:
            amp = session.get(Amphora, str(job.payload["amphora_id"]))
            if amp is None or amp.status == AmphoraStatus.DELETED:
                return
            session.expunge(amp)
        self.ops.remove(amp)


def _amphorae(session: Session, lb_id: str) -> list[Amphora]:
    return list(session.scalars(select(Amphora).where(Amphora.loadbalancer_id == lb_id)
                                .order_by(Amphora.created_at)))

