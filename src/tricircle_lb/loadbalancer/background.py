"""What runs behind a region's load-balancer API: the controller's job worker
and the health manager (Octavia's worker and health-manager processes, as
threads of one service). ``app.py`` starts it in the application's lifespan.

The health manager listens where Octavia's does: on the health-manager
port's address (``o-hm0``) inside the controller host's namespace, so
heartbeats really cross the management network. Until that port exists
(the deployment's bootstrap makes it) the listener keeps looking. The
amphorae's offloaded logs arrive at the same address (``[amphora_logs] port``).
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from tricircle_lb.dataplane.errors import DataplaneError
from tricircle_lb.dataplane.netns_socket import namespace_identity, socket_in
from tricircle_lb.jobs import JobMetrics, Worker
from tricircle_lb.loadbalancer.config import HealthManagerConfig, LoadBalancerConfig
from tricircle_lb.loadbalancer.controller import handoff, sweeper
from tricircle_lb.loadbalancer.controller.amphora_ops import AmphoraOps
from tricircle_lb.loadbalancer.controller.amphora_tls import ServiceCertificates
from tricircle_lb.loadbalancer.controller.flows import Flows
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient
from tricircle_lb.loadbalancer.drivers.compute import NovaComputeDriver
from tricircle_lb.loadbalancer.drivers.network import NetworkDriver, NetworkError
from tricircle_lb.loadbalancer.health.manager import HealthManager
from tricircle_lb.loadbalancer.logs.config import LogOffloadConfig
from tricircle_lb.loadbalancer.logs.files import LogFiles
from tricircle_lb.loadbalancer.logs.receiver import LogReceiver, senders_from
from tricircle_lb.loadbalancer.models import Amphora, LoadBalancer, ProvisioningStatus

LOG = logging.getLogger(__name__)
RETRY = 2.0
SWEEP_INTERVAL = 15.0


def build_flows(state: Any) -> Flows:
    cfg: LoadBalancerConfig = state.config
    hm: HealthManagerConfig = state.hm_config
    agent = AmphoraClient(cfg.controller_namespace, hm.heartbeat_key.encode(),
                          port=cfg.amp_agent_port, timeout=cfg.amp_request_timeout)
    ops = AmphoraOps(state.db, cfg, hm, state.network,
                     NovaComputeDriver(state.session, cfg.region_name), agent,
                     # The app's certificate manager if it made one ([certificates]
                     # endpoint), else this region's key manager from the catalog.
                     certificates=getattr(state, "certificates", None)
                     or ServiceCertificates(state.session, cfg.region_name),
                     log_port=_log_port(state.log_config))
    return Flows(state.db, ops)


def _log_port(logs: LogOffloadConfig) -> int | None:
    """Where amphorae send their logs; None when this region keeps none."""
    return logs.port if logs.enabled and logs.directory is not None else None


def start(state: Any) -> Callable[[], None]:
    """Start the worker and the health manager; returns the function that stops them."""
    flows = build_flows(state)
    sweeper.watch(state.queue, state.db)  # a job that fails leaves its objects ERROR
    worker = Worker(state.db, state.queue, flows.handlers(),
                    metrics=JobMetrics(state.metrics.registry, state.db, state.queue),
                    name="lb-controller")
    worker.start()
    stop = threading.Event()

    def failed(amphora_id: str) -> None:
        request_failover(state, amphora_id)

    manager = HealthManager(state.db, state.hm_config, failed, state.metrics.registry,
                            on_unconfigured=functools.partial(request_restore, state))
    threads = [
        threading.Thread(target=_listen, args=(state, manager, stop), name="lb-heartbeats",
                         daemon=True),
        threading.Thread(target=_sweep, args=(state, stop), name="lb-sweeper", daemon=True),
        threading.Thread(target=manager.run_checks, args=(stop,), name="lb-health-checks",
                         daemon=True),
    ]
    logs: LogOffloadConfig = state.log_config
    files = None
    if _log_port(logs) is not None and logs.directory is not None:
        files = LogFiles(logs.directory, logs.max_bytes, logs.backup_count)
        receiver = LogReceiver(files, senders_from(state.db))
        threads.append(threading.Thread(
            target=_listen_on, args=(state, logs.port, receiver.serve, lambda: None, stop),
            name="lb-log-receiver", daemon=True))
    for thread in threads:
        thread.start()

    def shutdown() -> None:
        stop.set()
        worker.stop(timeout=10)
        for thread in threads:
            thread.join(timeout=5)
        if files is not None:
            files.close()
    return shutdown


def request_failover(state: Any, amphora_id: str) -> None:
    """The health manager's verdict: replace the amphora (LB PENDING_UPDATE meanwhile)."""
    with state.db.write() as session:
        amp = session.get(Amphora, amphora_id)
        if amp is None or amp.loadbalancer_id is None:
            return
        lb = session.get(LoadBalancer, amp.loadbalancer_id)
        if lb is None or lb.provisioning_status.startswith("PENDING_"):
            return
        LOG.warning("amphora %s of load balancer %s is silent: failing it over",
                    amphora_id, lb.id)
        lb.provisioning_status = ProvisioningStatus.PENDING_UPDATE.value
        handoff.failover_amphora(session, state.queue, amphora_id, lb.project_id)


def _sweep(state: Any, stop: threading.Event) -> None:
    """Every ``SWEEP_INTERVAL``: load balancers left pending by a job that is gone go
    to ERROR (controller/sweeper.py)."""
    while not stop.wait(SWEEP_INTERVAL):
        try:
            sweeper.sweep(state.db)
        except Exception:
            LOG.exception("sweeping pending load balancers failed")


def request_restore(state: Any, amphora_id: str) -> bool:
    """The health manager's word that an amphora came back empty: give it its VIP and
    configuration again (LB PENDING_UPDATE meanwhile, so nothing else changes it).
    False if the load balancer is busy (asked again at the next heartbeat)."""
    with state.db.write() as session:
        amp = session.get(Amphora, amphora_id)
        if amp is None or amp.loadbalancer_id is None:
            return True  # nothing to restore
        lb = session.get(LoadBalancer, amp.loadbalancer_id)
        if lb is None:
            return True
        if lb.provisioning_status != ProvisioningStatus.ACTIVE.value:
            return False
        LOG.warning("amphora %s of load balancer %s started again without its "
                    "configuration: restoring it", amphora_id, lb.id)
        lb.provisioning_status = ProvisioningStatus.PENDING_UPDATE.value
        handoff.restore_amphora(session, state.queue, amphora_id, lb.project_id)
        return True


def _listen(state: Any, manager: HealthManager, stop: threading.Event) -> None:
    _listen_on(state, state.hm_config.bind_port, manager.serve, manager.deaf, stop)


Serve = Callable[[socket.socket, threading.Event, Callable[[], bool]], None]


def _listen_on(state: Any, port: int, serve: Serve, deaf: Callable[[], None],
               stop: threading.Event) -> None:
    """Bind ``port`` on the health-manager port's address and ``serve`` it, binding
    again whenever the controller host's namespace is made anew (``deaf`` is told
    that nothing was heard meanwhile)."""
    cfg: LoadBalancerConfig = state.config
    lost = False
    while not stop.is_set():
        where = namespace_identity(cfg.controller_namespace)
        try:
            sock = _bind(state.network, cfg, port)
        except (NetworkError, DataplaneError, OSError) as exc:
            LOG.info("not listening on port %d yet: %s", port, exc)
            stop.wait(RETRY if not lost else RETRY / 4)
            continue
        if lost:
            deaf()  # nothing was heard while the namespace was gone
            lost = False

        def same_namespace(where: tuple[int, int] | None = where) -> bool:
            # A socket stays in the namespace it was made in: once the controller
            # host's namespace is deleted and made anew, datagrams arrive in the new
            # one and this socket hears nothing. Bind again there.
            if namespace_identity(cfg.controller_namespace) == where:
                return True
            LOG.warning("namespace %s was made anew: binding port %d again",
                        cfg.controller_namespace, port)
            deaf()
            return False

        with sock:
            serve(sock, stop, same_namespace)
        lost = not stop.is_set()


def _bind(network: NetworkDriver, cfg: LoadBalancerConfig, bind_port: int) -> socket.socket:
    port = network.find_port(cfg.health_manager_port_name)
    if port is None or not port.ip_address:
        raise NetworkError(f"no port {cfg.health_manager_port_name!r} yet")
    family = socket.AF_INET6 if ":" in port.ip_address else socket.AF_INET
    sock = socket_in(cfg.controller_namespace, family, socket.SOCK_DGRAM)
    try:
        sock.bind((port.ip_address, bind_port))
    except OSError:
        sock.close()
        raise
    LOG.info("listening on %s:%d (UDP) in %s", port.ip_address, bind_port,
             cfg.controller_namespace or "the service's namespace")
    return sock
