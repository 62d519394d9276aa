"""The amphora's HAProxy: check, start, reload seamlessly, adopt, stop.

Files under the agent's state directory: ``haproxy.cfg`` (the running
configuration), ``haproxy.pid`` (the master's pid, written by HAProxy),
``haproxy.sock`` (the admin stats socket, ``expose-fd listeners``) and
``certs/`` (the certificate files TLS listeners and pools name, :mod:`.certificates`).

HAProxy runs in master-worker mode as a daemon. A reload is ``SIGUSR2`` to
the master: it re-executes itself on the new file, the new worker takes the
listening sockets over from the stats socket (so no connection is refused),
and the old worker stops accepting but finishes the connections it holds
(so no established connection is cut). The reload is done when the stats
socket is answered by a worker with another pid than before.

A new configuration is rendered and checked with ``haproxy -c`` before it
replaces the running file; a refused one leaves HAProxy untouched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tricircle_lb.loadbalancer.amphora.agent.certificates import (
    CertificateRefused,
    CertificateStore,
)
from tricircle_lb.loadbalancer.amphora.haproxy_config import (
    ConfigRenderError,
    haproxy_listeners,
    render,
)
from tricircle_lb.loadbalancer.amphora.log_config import NO_LOG_TARGETS, LogTargets
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig

LOG = logging.getLogger(__name__)

START_TIMEOUT = 15.0
LISTEN_TIMEOUT = 15.0
TCP_LISTEN = "0A"  # the st column of /proc/net/tcp


class InvalidConfig(ValueError):
    """Rendering or ``haproxy -c`` refused the configuration (HAProxy untouched)."""


class HAProxyFailed(RuntimeError):
    """HAProxy did not start, reload or stop as asked."""


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise HAProxyFailed(f"timed out waiting for {what}")
        time.sleep(0.02)


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _proc_net_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``0A01000A`` (32-bit words in host byte order, as /proc/net/tcp prints them)."""
    raw = bytes.fromhex(text)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def listening(address: str, port: int) -> bool:
    """Whether a TCP socket of this network namespace listens on ``address:port``.

    Read from /proc/net/tcp{,6} rather than by connecting: on an ACTIVE_STANDBY
    BACKUP the VIP is held by the peer, so a connection would test the peer.
    """
    wanted = ipaddress.ip_address(address)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)  # the header
            for line in lines:
                fields = line.split()
                local, state = fields[1], fields[3]
                host, _, hex_port = local.partition(":")
                if state != TCP_LISTEN or int(hex_port, 16) != port:
                    continue
                ip = _proc_net_address(host)
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                    ip = ip.ipv4_mapped
                if ip == wanted or (ip.is_unspecified and ip.version == wanted.version):
                    return True
    return False


class HAProxy:
    def __init__(self, binary: str, state_dir: Path, open_files_limit: int,
                 log_targets: LogTargets = NO_LOG_TARGETS) -> None:
        self.binary = binary
        self.open_files_limit = open_files_limit
        self.log_targets = log_targets
        self.config_file = state_dir / "haproxy.cfg"
        self.pid_file = state_dir / "haproxy.pid"
        self.stats_socket = state_dir / "haproxy.sock"
        self.certificates = CertificateStore(state_dir / "certs")

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
        # "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/"
        words = out.split()
        return words[2] if len(words) > 2 and words[1] == "version" else "unknown"

    # -- the running master -------------------------------------------------------

    def master_pid(self) -> int | None:
        """The pid of our HAProxy master if it runs (pid file and command line agree)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        if str(self.config_file).encode() not in cmdline or not process_alive(pid):
            return None
        return pid

    def ask(self, command: str, timeout: float = 2.0) -> str:
        """One command on the stats socket; raises OSError if nobody answers."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.stats_socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def _worker_pid(self) -> int | None:
        try:
            info = self.ask("show info")
        except OSError:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    def resume(self) -> None:
        """After an agent or amphora restart: adopt a running HAProxy, else start the saved file."""
        pid = self.master_pid()
        if pid is not None:
            LOG.info("adopting running HAProxy master %d", pid)
        elif self.config_file.exists():
            LOG.info("HAProxy is not running: starting it on %s", self.config_file)
            self._start()

    # -- changes ------------------------------------------------------------------

    def check(self, config: LoadBalancerConfig) -> str:
        """The rendered text, accepted by ``haproxy -c``; raises :class:`InvalidConfig`."""
        try:
            text = render(config, stats_socket=self.stats_socket, pid_file=self.pid_file,
                          open_files_limit=self.open_files_limit,
                          cert_dir=self.certificates.directory,
                          log_targets=self.log_targets)
        except ConfigRenderError as exc:
            raise InvalidConfig(str(exc)) from None
        candidate = self.config_file.with_suffix(".cfg.new")
        candidate.write_text(text)
        try:
            result = subprocess.run([self.binary, "-c", "-f", str(candidate)],
                                    capture_output=True, text=True, timeout=30, check=False)
        finally:
            candidate.unlink(missing_ok=True)
        if result.returncode != 0:
            raise InvalidConfig(f"haproxy -c: {(result.stderr or result.stdout).strip()}")
        return text

    def apply(self, config: LoadBalancerConfig) -> None:
        """Check, install and start or reload; returns once every listener accepts.

        A load balancer without listeners has nothing to serve: HAProxy refuses
        to run with no listener (``haproxy -c`` exits 2), so it is stopped.
        Certificate files are written before the check and the ones no longer
        named are removed once HAProxy runs the new file."""
        listeners = haproxy_listeners(config)
        if not listeners:
            self.stop()
            return
        try:
            self.certificates.install(config)
        except CertificateRefused as exc:
            raise InvalidConfig(str(exc)) from None
        text = self.check(config)
        new = self.config_file.with_suffix(".cfg.tmp")
        new.write_text(text)
        os.replace(new, self.config_file)
        master = self.master_pid()
        if master is None:
            self._start()
        else:
            before = self._worker_pid()
            os.kill(master, signal.SIGUSR2)
            _wait(lambda: (pid := self._worker_pid()) is not None and pid != before,
                  START_TIMEOUT, "the reloaded HAProxy worker")
        for listener in listeners:
            self._wait_accepting(config.vip_address, listener.protocol_port)
        self.certificates.prune(config)

    def _start(self) -> None:
        self.stats_socket.unlink(missing_ok=True)
        result = subprocess.run(
            [self.binary, "-W", "-D", "-f", str(self.config_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, timeout=START_TIMEOUT, check=False)
        if result.returncode != 0:
            raise HAProxyFailed(f"haproxy did not start: {result.stderr.strip()}")
        _wait(lambda: self.master_pid() is not None and self._worker_pid() is not None,
              START_TIMEOUT, "HAProxy to start")
        LOG.info("HAProxy started (master %s)", self.master_pid())

    def _wait_accepting(self, address: str, port: int) -> None:
        _wait(lambda: listening(address, port), LISTEN_TIMEOUT,
              f"a listener on {address} port {port}")

    def stop(self) -> None:
        """Stop HAProxy and forget its configuration (idempotent)."""
        pid = self.master_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait(lambda: not process_alive(pid), START_TIMEOUT, f"HAProxy master {pid} to exit")
            LOG.info("HAProxy stopped")
        for path in (self.config_file, self.pid_file, self.stats_socket):
            path.unlink(missing_ok=True)
        self.certificates.remove()
