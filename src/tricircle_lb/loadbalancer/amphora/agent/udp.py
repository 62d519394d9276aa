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
re-rendered and nginx reloaded the same way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tricircle_lb.loadbalancer.amphora import codec
from tricircle_lb.loadbalancer.amphora.agent.haproxy import process_alive
from tricircle_lb.loadbalancer.amphora.agent.udp_health import HealthChecker, Target
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig
from tricircle_lb.loadbalancer.amphora.udp_config import (
    STREAM_MODULE,
    UdpConfigError,
    render,
    used_pools,
)
from tricircle_lb.loadbalancer.health.heartbeat import ListenerStatus, PoolStatus

LOG = logging.getLogger(__name__)
START_TIMEOUT = 15.0
SAVED_FILE = "udp.json"  # names in the state directory (keepalived's check reads them)
PID_FILE = "nginx-udp.pid"


class InvalidUdpConfig(ValueError):
    """Rendering or ``nginx -t`` refused the UDP configuration (nginx untouched)."""


class UdpProxyFailed(RuntimeError):
    """nginx did not start, reload or stop as asked."""


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise UdpProxyFailed(f"timed out waiting for {what}")
        time.sleep(0.02)


def _proc_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(text)  # 32-bit words in host byte order
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def udp_bound(address: str, port: int) -> bool:
    """Whether a UDP socket of this network namespace is bound to ``address:port``."""
    wanted = ipaddress.ip_address(address)
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)
            for line in lines:
                host, _, hex_port = line.split()[1].partition(":")
                if int(hex_port, 16) != port:
                    continue
                ip = _proc_address(host)
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                    ip = ip.ipv4_mapped
                if ip == wanted or (ip.is_unspecified and ip.version == wanted.version):
                    return True
    return False


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


def targets(config: LoadBalancerConfig) -> list[Target]:
    """What the health monitors of ``config``'s used UDP pools probe."""
    return [Target(pool.id, m.id, m.monitor_address or m.address,
                   m.monitor_port or m.protocol_port, pool.health_monitor)
            for pool in used_pools(config) if pool.health_monitor is not None
            for m in pool.members if m.admin_state_up]


class UdpProxy:
    def __init__(self, binary: str, state_dir: Path, stream_module: str = STREAM_MODULE,
                 checker: Callable[[Callable[[], None]], HealthChecker] = HealthChecker) -> None:
        self.binary = binary
        self.stream_module = stream_module
        self.saved = state_dir / SAVED_FILE
        self.config_file = state_dir / "nginx-udp.conf"
        self.pid_file = state_dir / PID_FILE
        self.error_log = state_dir / "nginx-udp.log"
        self.health = checker(self._health_changed)
        self._config: LoadBalancerConfig | None = None
        self._lock = threading.Lock()

    # -- the running master ---------------------------------------------------------

    def master_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
            # nginx rewrites its argv: "nginx: master process /usr/sbin/nginx -c <file> ..."
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            return None
        if f" {self.config_file} ".encode() not in cmdline + b" " or not process_alive(pid):
            return None
        return pid

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
        candidate = self.config_file.with_suffix(".conf.new")
        candidate.write_text(text)
        try:
            result = subprocess.run(
                [self.binary, "-t", "-q", "-c", str(candidate), "-e", str(self.error_log)],
                capture_output=True, text=True, timeout=30, check=False)
        finally:
            candidate.unlink(missing_ok=True)
        if result.returncode != 0:
            raise InvalidUdpConfig(f"nginx -t: {(result.stderr or result.stdout).strip()}")
        return text

    def _install(self, text: str, config: LoadBalancerConfig) -> None:
        if self.config_file.exists() and self.config_file.read_text() == text \
                and self.master_pid() is not None:
            return
        new = self.config_file.with_suffix(".conf.tmp")
        new.write_text(text)
        os.replace(new, self.config_file)
        master = self.master_pid()
        if master is None:
            self._start()
        else:
            before = _children(master)
            os.kill(master, signal.SIGHUP)
            # Done when a new worker runs and the old ones have let go of the listening
            # sockets (they say "is shutting down" once they have closed them).
            _wait(lambda: bool(_children(master) - before) and all(
                _winding_down(pid) for pid in before), START_TIMEOUT,
                "the reloaded nginx worker")
        ports = {li.protocol_port for li in config.listeners}
        _wait(lambda: all(udp_bound(config.vip_address, port) for port in ports),
              START_TIMEOUT, f"UDP ports {sorted(ports)} on {config.vip_address}")

    def _start(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        result = subprocess.run(
            [self.binary, "-c", str(self.config_file), "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, timeout=START_TIMEOUT, check=False)
        if result.returncode != 0:
            raise UdpProxyFailed(f"nginx did not start: {result.stderr.strip()}")
        _wait(lambda: self.master_pid() is not None, START_TIMEOUT, "nginx to start")
        LOG.info("nginx (UDP) started (master %s)", self.master_pid())

    def stop(self) -> None:
        """Stop nginx and forget the UDP configuration (idempotent)."""
        self.health.update(())
        with self._lock:
            self._config = None
            pid = self.master_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                _wait(lambda: not process_alive(pid), START_TIMEOUT, f"nginx {pid} to exit")
                LOG.info("nginx (UDP) stopped")
            for path in (self.saved, self.config_file, self.pid_file):
                path.unlink(missing_ok=True)

    # -- heartbeats -----------------------------------------------------------------

    def report(self) -> tuple[Mapping[str, ListenerStatus], Mapping[str, PoolStatus]]:
        """The UDP listeners and pools as a heartbeat reports HAProxy's."""
        with self._lock:
            config = self._config
        if config is None:
            return {}, {}
        running = self.master_pid() is not None
        listeners = {
            li.id: ListenerStatus(
                status="OPEN" if running and udp_bound(config.vip_address, li.protocol_port)
                else "STOP",
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
