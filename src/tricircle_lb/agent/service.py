"""The host agent: poll the region, reconcile the host, report back.

One loop, every ``poll_interval`` seconds (and at start):

1. read the desired state with a constant number of list calls
   (:meth:`Agent.read_desired`);
2. reconcile the kernel (:class:`~.reconcile.Reconciler`);
3. report ports that became ``ACTIVE``, start instances whose ports are all
   plugged and report their status and console log to compute;

and every ``report_interval`` seconds ``PUT /v1.0/agents/<host>`` so the
region knows the host's VTEP and mappings. A region that cannot be read
leaves the data plane untouched: the kernel keeps forwarding.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from tricircle_lb.agent.api import ApiUnavailable, Body, RegionApi
from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.agent.desired import (
    DesiredState,
    Instance,
    build,
    network_ids,
    security_group_ids,
    subnet_ids,
)
from tricircle_lb.agent.metrics import AgentMetrics
from tricircle_lb.agent.reconcile import Reconciler, ReconcileResult
from tricircle_lb.agent.runtime_api import InstanceRuntime
from tricircle_lb.agent.wiring import HostWiring
from tricircle_lb.dataplane.errors import DataplaneError, NamespaceNotFound
from tricircle_lb.dataplane.interface import Dataplane
from tricircle_lb.dataplane.packet_filter import PacketFilter

LOG = logging.getLogger(__name__)

AGENT_TYPE = "Linux bridge agent"
BINARY = "tricircle-lb-agent"
CONSOLE_TAIL = 64 * 1024
FAULT_MAX = 4000
POWER_RUNNING = 1
POWER_NOSTATE = 0
POWER_SHUTDOWN = 4
# A guest seen dead this long in its own namespace has crashed (SHUTOFF). The grace
# tells a crash from a host losing its namespaces, which kills the processes first.
SHUTOFF_AFTER = 5.0
# How long `status` shows that the host rebuilt something.
REPAIR_SHOWN_FOR = 300.0


class Agent:
    def __init__(self, config: AgentConfig, api: RegionApi, dataplane: Dataplane,
                 runtime: InstanceRuntime | None = None, metrics: AgentMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 packet_filter: PacketFilter | None = None) -> None:
        self.config = config
        self.packet_filter = packet_filter
        self.api = api
        self.dataplane = dataplane
        self.runtime = runtime
        self.metrics = metrics or AgentMetrics()
        self.clock = clock
        self.wiring = HostWiring.from_config(config, dataplane)
        self.reconciler = Reconciler(
            dataplane, host_namespace=config.host_namespace, tunnel_ip=config.tunnel_ip,
            underlay_device=config.underlay_device,
            mappings=config.physical_interface_mappings, runtime=runtime,
            wiring=self.wiring, packet_filter=packet_filter)
        # Only caches of what was already sent; losing them costs one repeated report.
        self._console_sent: dict[str, str] = {}
        self._started: set[str] = set()
        self._dead_since: dict[str, float] = {}
        # What the host's data plane looks like, reported with the agent's state.
        self.health = DataplaneHealth()
        self._reported_health: dict[str, object] | None = None

    # One reconcile --------------------------------------------------------------
    def read_desired(self) -> DesiredState:
        """At most seven list calls (more only past 100 networks/subnets/groups per call);
        security groups only when the agent filters (it has a packet filter)."""
        host = self.config.host
        # Servers before ports: a server compute calls ready (every port bound)
        # then has all its ports in the port list read after it.
        servers = self.api.servers_on_host(host) if self.runtime is not None else None
        local = self.api.ports_on_host(host)
        nets = network_ids(local)
        subs = subnet_ids(local)
        network_ports = self.api.ports_of_networks(nets) if nets else []
        networks = self.api.networks(nets) if nets else []
        subnets = self.api.subnets(subs) if subs else []
        groups = None
        if self.packet_filter is not None:
            group_ids = security_group_ids(local)
            groups = self.api.security_groups(group_ids) if group_ids else []
        namer = self.runtime.namespace if self.runtime is not None else _no_namespace
        return build(host=host, tunnel_ip=self.config.tunnel_ip, local_ports=local,
                     network_ports=network_ports, networks=networks, subnets=subnets,
                     servers=servers, instance_namespace=namer,
                     region=self.config.region_name, security_groups=groups)

    def reconcile_once(self) -> ReconcileResult:
        started = self.clock()
        try:
            desired = self.read_desired()
            if self.wiring is None and self.config.host_namespace and (
                    self.config.host_namespace not in self.dataplane.namespaces()):
                raise NamespaceNotFound(self.config.host_namespace)
            result = self.reconciler.apply(desired)
            self.health.observed(result, time.time())
            self._report_ports(desired, result)
            if self.runtime is not None and desired.manage_instances:
                self._instances(self.runtime, desired, result)
        except Exception:
            self.metrics.reconcile_failures.inc()
            raise
        finally:
            self.metrics.reconcile_seconds.observe(self.clock() - started)
        self.metrics.ports.set(len(result.plugged))
        self.metrics.networks.set(len(desired.networks))
        self.metrics.fdb_entries.set(result.fdb_entries)
        self.metrics.neighbour_entries.set(result.neighbour_entries)
        self.metrics.instances.set(len(desired.instances))
        return result

    def _report_ports(self, desired: DesiredState, result: ReconcileResult) -> None:
        for plug in desired.plugs:
            if plug.port_id in result.plugged and plug.status != "ACTIVE":
                try:
                    self.api.set_port_status(plug.port_id, "ACTIVE")
                    LOG.info("port %s is ACTIVE", plug.port_id)
                except ApiUnavailable as exc:
                    LOG.warning("reporting port %s ACTIVE failed: %s", plug.port_id, exc)

    def _instances(self, runtime: InstanceRuntime, desired: DesiredState,
                   result: ReconcileResult) -> None:
        for instance_id in result.removed_instances:
            self._console_sent.pop(instance_id, None)
            self._started.discard(instance_id)
        for inst in desired.instances.values():
            ports = [p.port_id for p in desired.plugs if p.instance_id == inst.id]
            if not inst.ports_bound or any(p not in result.plugged for p in ports):
                continue  # not every port is in place yet: next round
            try:
                self._instance(runtime, inst)
            except ApiUnavailable as exc:
                LOG.warning("reporting instance %s failed: %s", inst.id, exc)

    def _instance(self, runtime: InstanceRuntime, inst: Instance) -> None:
        running = runtime.is_running(inst.id)
        lost = not running and inst.id in self._started and runtime.lost(inst.id)
        if lost and inst.status in ("BUILD", "ACTIVE"):
            # The host lost it with its namespace (as a rebooted hypervisor loses its
            # guests): start it again, as Nova's resume_guests_state_on_host_boot does.
            LOG.warning("instance %s was lost with its namespace: starting it again", inst.id)
            self._started.discard(inst.id)
            self.health.repair(f"restarted {(inst.name or inst.id)[:16]}", time.time())
        if running:
            self._dead_since.pop(inst.id, None)
        if not running and inst.status in ("BUILD", "ACTIVE") and inst.id not in self._started:
            try:
                runtime.ensure_namespace(inst.id)
                runtime.start(inst.id, inst.name, inst.user_data, inst.limits, inst.service)
                running = runtime.is_running(inst.id)
            except Exception as exc:
                LOG.warning("starting instance %s failed: %s", inst.id, exc)
                if inst.status != "ERROR":
                    self.api.update_server(inst.id, {
                        "status": "ERROR", "power_state": POWER_NOSTATE,
                        "fault": f"starting the instance failed: {exc}"[:FAULT_MAX]})
                return
            finally:
                self._started.add(inst.id)
        if running and (inst.status != "ACTIVE" or inst.power_state != POWER_RUNNING):
            self.api.update_server(inst.id, {"status": "ACTIVE", "power_state": POWER_RUNNING})
            LOG.info("instance %s is ACTIVE", inst.id)
        elif not running and inst.status == "ACTIVE" and inst.id in self._started:
            # It ran and stopped by itself (Nova shows a crashed guest as SHUTOFF).
            since = self._dead_since.setdefault(inst.id, self.clock())
            if self.clock() - since >= SHUTOFF_AFTER:
                self._dead_since.pop(inst.id, None)
                self.api.update_server(inst.id, {"status": "SHUTOFF",
                                                 "power_state": POWER_SHUTDOWN})
        self._post_console(runtime, inst.id)

    def _post_console(self, runtime: InstanceRuntime, instance_id: str) -> None:
        text = runtime.console(instance_id)[-CONSOLE_TAIL:]
        digest = hashlib.sha256(text.encode()).hexdigest()
        if text and self._console_sent.get(instance_id) != digest:
            self.api.update_server(instance_id, {"console_log": text})
            self._console_sent[instance_id] = digest

    # Reporting the agent --------------------------------------------------------
    def agent_body(self) -> Body:
        return {
            "agent_type": AGENT_TYPE,
            "binary": BINARY,
            "tunnel_ip": self.config.tunnel_ip,
            "region": self.config.region_name,
            "configurations": {
                "tunneling_ip": self.config.tunnel_ip,
                "interface_mappings": dict(self.config.physical_interface_mappings),
                "tunnel_types": ["vxlan"],
                "l2_population": True,
                "data_plane": self.health.as_dict(time.time()),
            },
        }

    def report_state(self) -> None:
        body = self.agent_body()
        self.api.report_agent(self.config.host, body)
        self._reported_health = self._health_key()

    def _health_key(self) -> dict[str, object]:
        """The part of the health report whose change is news (not its timestamps)."""
        return {k: v for k, v in self.health.as_dict(time.time()).items()
                if k not in ("checked_at", "repaired_ago")}

    # The loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set. Never tears the data plane down."""
        LOG.info("agent for %s (VTEP %s) started", self.config.host, self.config.tunnel_ip)
        next_report = self.clock()
        while not stop.is_set():
            if self.clock() >= next_report:
                try:
                    self.report_state()
                except ApiUnavailable as exc:
                    LOG.warning("agent report failed: %s", exc)
                next_report = self.clock() + self.config.report_interval
            try:
                self.reconcile_once()
            except ApiUnavailable as exc:
                LOG.warning("region not readable, data plane left as is: %s", exc)
            except DataplaneError as exc:
                LOG.error("reconcile failed: %s", exc)
                self.health.failed(str(exc), self._host_namespace_present())
            except Exception as exc:
                LOG.exception("reconcile failed")
                self.health.failed(f"{type(exc).__name__}: {exc}",
                                   self._host_namespace_present())
            if self._health_key() != self._reported_health:
                # Damage (and its repair) is news: tell the region now, not at the next
                # report, so `tricircle-lb status` shows it while it lasts.
                try:
                    self.report_state()
                except ApiUnavailable as exc:
                    LOG.warning("agent report failed: %s", exc)
            stop.wait(self.config.poll_interval)
        LOG.info("agent for %s stopped; data plane left in place", self.config.host)


    def _host_namespace_present(self) -> bool:
        ns = self.config.host_namespace
        return not ns or ns in self.dataplane.namespaces()


class DataplaneHealth:
    """What the host's data plane looked like at the last reconcile, for operators:
    namespace present, underlay reachable, the last error and the last repair."""

    def __init__(self) -> None:
        self.host_namespace = True
        self.underlay: bool | None = None
        self.error = ""
        self.checked_at: float | None = None
        self.repaired = ""
        self.repaired_at: float | None = None

    def observed(self, result: ReconcileResult, now: float) -> None:
        self.host_namespace = True
        self.underlay = result.underlay_reachable
        self.checked_at = now
        failed = sorted(result.failed.items())
        self.error = (f"{len(failed)} failed, {failed[0][0]}: {failed[0][1]}"
                      if failed else "")[:FAULT_MAX]
        if result.repaired:
            self.repair("rebuilt " + ", ".join(result.repaired), now)

    def failed(self, error: str, host_namespace: bool) -> None:
        self.error = error[:FAULT_MAX]
        self.host_namespace = host_namespace

    def repair(self, what: str, now: float) -> None:
        # Repairs of one round (a few seconds) are listed together.
        if self.repaired_at is not None and now - self.repaired_at < 5.0 and self.repaired:
            if what not in self.repaired.split("; "):
                self.repaired = f"{self.repaired}; {what}"[:FAULT_MAX]
        else:
            self.repaired = what
        self.repaired_at = now

    def as_dict(self, now: float) -> dict[str, object]:
        recent = self.repaired_at is not None and now - self.repaired_at < REPAIR_SHOWN_FOR
        return {
            "host_namespace": self.host_namespace,
            "underlay_reachable": self.underlay,
            "last_error": self.error,
            "checked_at": self.checked_at,
            "last_repair": self.repaired if recent else "",
            "repaired_ago": round(now - self.repaired_at) if recent and self.repaired_at
            else None,
        }


def _no_namespace(instance_id: str) -> str:
    raise AssertionError("no instance runtime")
