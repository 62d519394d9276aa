"""The amphora's UDP listeners: nginx's stream module, started, reloaded and stopped
by the agent, with the agent's own health monitor (docs/decisions/087).

Files under the agent's state directory: ``udp.json`` (the UDP part of the last
configuration, codec JSON: what :meth:`UdpProxy.resume` restarts from),
``nginx-udp.conf`` (rendered by :mod:`..udp_config`), ``nginx-udp.pid`` (the
master's pid, written by nginx) and ``nginx-udp.log``.

nginx runs as a daemon, so an agent restart leaves it alone and the next agent
adopts it. A new file is checked with ``nginx -t`` before it replaces the
running one; a reload is ``SIGHUP`` to the master, which starts workers on the
new file and lets the old ones finish (``worker_shutdown_timeout``). A health
monitor's verdict changes only which members are ``down``: the file is
re-rendered and nginx reloaded the same way. What nginx shares with HAProxy
(check, install, start, stop, the master by its pid file) is :mod:`.daemons`.

The listeners' statistics are counted by the kernel, in an nftables table the
agent keeps beside nginx (:mod:`.udp_stats`, decision 091), and reported in
heartbeats as HAProxy's are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from tricircle_lb.loadbalancer.amphora import codec
from tricircle_lb.loadbalancer.amphora.agent.daemons import (
    Daemon,
    DaemonFailed,
    bound,
    process_alive,
)
from tricircle_lb.loadbalancer.amphora.agent.udp_health import HealthChecker, Target
from tricircle_lb.loadbalancer.amphora.agent.udp_stats import (
    CountedListener,
    UdpStats,
    UdpStatsError,
)
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig
from tricircle_lb.loadbalancer.amphora.udp_config import (
    STREAM_MODULE,
    UdpConfigError,
    render,
    session_timeout_ms,
    used_pools,
)
from tricircle_lb.loadbalancer.health.heartbeat import ListenerStats, ListenerStatus, PoolStatus

LOG = logging.getLogger(__name__)
SAVED_FILE = "udp.json"  # names in the state directory (keepalived's check reads them)
PID_FILE = "nginx-udp.pid"


class InvalidUdpConfig(ValueError):
    """Rendering or ``nginx -t`` refused the UDP configuration (nginx untouched)."""


class UdpProxyFailed(DaemonFailed):
    """nginx did not start, reload or stop as asked."""


def udp_bound(address: str, port: int) -> bool:
    """Whether a UDP socket of this network namespace is bound to ``address:port``."""
    return bound("udp", address, port)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found


def _winding_down(pid: int) -> bool:
    try:
        return not process_alive(pid) or b"shutting down" in Path(
            f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # gone


def counted(config: LoadBalancerConfig) -> list[CountedListener]:
    """What the statistics table counts for ``config``'s UDP listeners."""
    pools = {p.id: p for p in used_pools(config)}
    return [CountedListener(li.id, li.protocol_port,
                            session_timeout_ms(li, pools.get(li.default_pool_id or "")))
            for li in config.listeners]


def targets(config: LoadBalancerConfig) -> list[Target]:
    """What the health monitors of ``config``'s used UDP pools probe."""
    return [Target(pool.id, m.id, m.monitor_address or m.address,
                   m.monitor_port or m.protocol_port, pool.health_monitor)
            for pool in used_pools(config) if pool.health_monitor is not None
            for m in pool.members if m.admin_state_up]


class UdpProxy:
    """nginx for the UDP listeners; ``stats``: the table that counts them (None: no counts,
    as in tests that run in the host's own namespace)."""

    def __init__(self, binary: str, state_dir: Path, stream_module: str = STREAM_MODULE,
                 checker: Callable[[Callable[[], None]], HealthChecker] = HealthChecker,
                 stats: UdpStats | None = None) -> None:
        self.binary = binary
        self.stream_module = stream_module
        self.stats = stats
        self.saved = state_dir / SAVED_FILE
        self.daemon = Daemon("nginx (UDP)", state_dir / "nginx-udp.conf",
                             state_dir / PID_FILE, UdpProxyFailed)
        self.config_file = self.daemon.config_file
        self.pid_file = self.daemon.pid_file
        self.error_log = state_dir / "nginx-udp.log"
        self.health = checker(self._health_changed)
        self._config: LoadBalancerConfig | None = None
        self._lock = threading.Lock()

    # -- the running master ---------------------------------------------------------

    def master_pid(self) -> int | None:
        return self.daemon.master_pid()

    def resume(self) -> None:
        """After an agent restart: adopt or start nginx on the saved configuration."""
        try:
            config = codec.from_json(self.saved.read_bytes())
        except (OSError, codec.CodecError):
            return
        LOG.info("resuming UDP listeners of load balancer %s", config.id)
        try:
            self.apply(config)
        except (InvalidUdpConfig, UdpProxyFailed) as exc:
            LOG.error("UDP listeners not resumed: %s", exc)

    # -- changes --------------------------------------------------------------------

    def apply(self, config: LoadBalancerConfig) -> None:
        """Serve ``config``'s UDP listeners (none: stop nginx); returns once they are bound."""
        if not config.listeners:
            self.stop()
            return
        with self._lock:
            text = self._check(config, self.health.down())
            self._install(text, config)
            self._config = config
            tmp = self.saved.with_suffix(".tmp")
            tmp.write_bytes(codec.to_json(config))
            os.replace(tmp, self.saved)
            self._count(config)
        # Outside the lock: a checker thread may be waiting for it in _health_changed.
        self.health.update(targets(config))

    def check(self, config: LoadBalancerConfig) -> None:
        """Raise :class:`InvalidUdpConfig` if :meth:`apply` would refuse ``config``."""
        if config.listeners:
            self._check(config, self.health.down())

    def _health_changed(self) -> None:
        with self._lock:
            if self._config is None:
                return
            try:
                self._install(self._check(self._config, self.health.down()), self._config)
            except (InvalidUdpConfig, UdpProxyFailed) as exc:
                LOG.error("member status change not applied: %s", exc)

    def _check(self, config: LoadBalancerConfig, down: set[str]) -> str:
        try:
            text = render(config, pid_file=self.pid_file, error_log=self.error_log,
                          down=down, stream_module=self.stream_module)
        except UdpConfigError as exc:
            raise InvalidUdpConfig(str(exc)) from None
        refused = self.daemon.check(text, lambda f: [
            self.binary, "-t", "-q", "-c", str(f), "-e", str(self.error_log)])
        if refused is not None:
            raise InvalidUdpConfig(f"nginx -t: {refused}")
        return text

    def _count(self, config: LoadBalancerConfig) -> None:
        """Count ``config``'s listeners; a failure costs the figures, never the traffic."""
        if self.stats is None:
            return
        try:
            self.stats.apply(config.vip_address, counted(config))
        except UdpStatsError as exc:
            LOG.warning("UDP listener statistics not counted: %s", exc)

    def _install(self, text: str, config: LoadBalancerConfig) -> None:
        if self.daemon.running(text):
            return
        self.daemon.install(text)
        master = self.master_pid()
        if master is None:
            self._start()
        else:
            before = _children(master)
            os.kill(master, signal.SIGHUP)
            # Done when a new worker runs and the old ones have let go of the listening
            # sockets (they say "is shutting down" once they have closed them).
            self.daemon.wait(lambda: bool(_children(master) - before) and all(
                _winding_down(pid) for pid in before), "the reloaded nginx worker")
        ports = {li.protocol_port for li in config.listeners}
        self.daemon.wait(lambda: all(udp_bound(config.vip_address, port) for port in ports),
                         f"UDP ports {sorted(ports)} on {config.vip_address}")

    def _start(self) -> None:
        self.daemon.start([self.binary, "-c", str(self.config_file), "-e", str(self.error_log)],
                          lambda: True)

    def stop(self) -> None:
        """Stop nginx and forget the UDP configuration (idempotent)."""
        self.health.update(())
        with self._lock:
            self._config = None
            self.daemon.stop(forget=(self.saved,))
            if self.stats is not None:
                try:
                    self.stats.remove()
                except UdpStatsError as exc:
                    LOG.warning("UDP statistics table not removed: %s", exc)

    # -- heartbeats -----------------------------------------------------------------

    def _counts(self) -> Mapping[str, ListenerStats]:
        if self.stats is None:
            return {}
        try:
            return self.stats.read()
        except UdpStatsError as exc:
            LOG.debug("no UDP statistics: %s", exc)
            return {}

    def report(self) -> tuple[Mapping[str, ListenerStatus], Mapping[str, PoolStatus]]:
        """The UDP listeners and pools as a heartbeat reports HAProxy's."""
        with self._lock:
            config = self._config
        if config is None:
            return {}, {}
        running = self.master_pid() is not None
        counts = self._counts()
        listeners = {
            li.id: ListenerStatus(
                status="OPEN" if running and udp_bound(config.vip_address, li.protocol_port)
                else "STOP",
                stats=counts.get(li.id, ListenerStats()),
                pools=(li.default_pool_id,) if li.default_pool_id else ())
            for li in config.listeners}
        pools = {}
        for pool in used_pools(config):
            members = {}
            for m in pool.members:
                up = self.health.is_up(pool.id, m.id)
                if not m.admin_state_up:
                    members[m.id] = "MAINT"
                elif m.weight == 0:
                    members[m.id] = "DRAIN"
                elif pool.health_monitor is None or up is None:
                    members[m.id] = "no check"
                else:
                    members[m.id] = "UP" if up else "DOWN"
            serving = any(s in ("UP", "no check") for s in members.values())
            pools[pool.id] = PoolStatus(status="UP" if running and serving else "DOWN",
                                        members=members)
        return listeners, pools
