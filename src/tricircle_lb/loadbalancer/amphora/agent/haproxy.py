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
replaces the running file; a refused one leaves HAProxy untouched. That part
of the lifecycle (and start, stop, the master by its pid file) is shared with
the UDP listeners' nginx in :mod:`.daemons`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from pathlib import Path

from tricircle_lb.loadbalancer.amphora.agent.certificates import (
    CertificateRefused,
    CertificateStore,
)
from tricircle_lb.loadbalancer.amphora.agent.daemons import (
    Daemon,
    DaemonFailed,
    bound,
    process_alive,
)
from tricircle_lb.loadbalancer.amphora.haproxy_config import (
    ConfigRenderError,
    haproxy_listeners,
    render,
)
from tricircle_lb.loadbalancer.amphora.log_config import NO_LOG_TARGETS, LogTargets
from tricircle_lb.loadbalancer.amphora.model import LoadBalancerConfig

__all__ = ["HAProxy", "HAProxyFailed", "InvalidConfig", "listening", "process_alive"]

LOG = logging.getLogger(__name__)

LISTEN_TIMEOUT = 15.0


class InvalidConfig(ValueError):
    """Rendering or ``haproxy -c`` refused the configuration (HAProxy untouched)."""


class HAProxyFailed(DaemonFailed):
    """HAProxy did not start, reload or stop as asked."""


def listening(address: str, port: int) -> bool:
    """Whether a TCP socket of this network namespace listens on ``address:port``."""
    return bound("tcp", address, port)


class HAProxy:
    def __init__(self, binary: str, state_dir: Path, open_files_limit: int,
                 log_targets: LogTargets = NO_LOG_TARGETS) -> None:
        self.binary = binary
        self.open_files_limit = open_files_limit
        self.log_targets = log_targets
        self.daemon = Daemon("HAProxy", state_dir / "haproxy.cfg", state_dir / "haproxy.pid",
                             HAProxyFailed)
        self.config_file = self.daemon.config_file
        self.pid_file = self.daemon.pid_file
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
        return self.daemon.master_pid()

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
        refused = self.daemon.check(text, lambda f: [self.binary, "-c", "-f", str(f)])
        if refused is not None:
            raise InvalidConfig(f"haproxy -c: {refused}")
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
        self.daemon.install(text)
        master = self.master_pid()
        if master is None:
            self._start()
        else:
            before = self._worker_pid()
            os.kill(master, signal.SIGUSR2)
            self.daemon.wait(lambda: (pid := self._worker_pid()) is not None and pid != before,
                             "the reloaded HAProxy worker")
        for listener in listeners:
            self._wait_accepting(config.vip_address, listener.protocol_port)
        self.certificates.prune(config)

    def _start(self) -> None:
        self.stats_socket.unlink(missing_ok=True)
        self.daemon.start([self.binary, "-W", "-D", "-f", str(self.config_file)],
                          lambda: self._worker_pid() is not None)

    def _wait_accepting(self, address: str, port: int) -> None:
        self.daemon.wait(lambda: listening(address, port),
                         f"a listener on {address} port {port}", LISTEN_TIMEOUT)

    def stop(self) -> None:
        """Stop HAProxy and forget its configuration (idempotent)."""
        self.daemon.stop(forget=(self.stats_socket,))
        self.certificates.remove()
