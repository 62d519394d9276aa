"""What the amphora's proxies (HAProxy, and nginx for UDP) have in common.

Each runs as a daemon from one configuration file in the agent's state
directory and writes its master's pid to a file there. :class:`Daemon` holds
that shared lifecycle: a candidate file checked by the proxy's own test mode
before it replaces the running one (atomically), start, the master found by
its pid file *and* a command line naming our file (a recycled pid is not
ours), stop with SIGTERM. How each reloads, and when it is ready, stays with
the proxy (:mod:`.haproxy`, :mod:`.udp`).

Also here: whether a socket of this network namespace is bound, read from
``/proc/net`` rather than probed (on an ACTIVE_STANDBY BACKUP the VIP is the
peer's, so a probe would test the peer).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

LOG = logging.getLogger(__name__)

START_TIMEOUT = 15.0
CHECK_TIMEOUT = 30.0
TCP_LISTEN = "0A"  # the st column of /proc/net/tcp


class DaemonFailed(RuntimeError):
    """A daemon did not start, reload or stop as asked."""


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               failed: type[DaemonFailed] = DaemonFailed) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise failed(f"timed out waiting for {what}")
        time.sleep(0.02)


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _proc_net_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``0A01000A`` (32-bit words in host byte order, as /proc/net/* prints them)."""
    raw = bytes.fromhex(text)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def bound(protocol: str, address: str, port: int) -> bool:
    """Whether a ``tcp`` socket listens, or a ``udp`` socket is bound, on ``address:port``."""
    wanted = ipaddress.ip_address(address)
    for table in (f"/proc/net/{protocol}", f"/proc/net/{protocol}6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)  # the header
            for line in lines:
                fields = line.split()
                host, _, hex_port = fields[1].partition(":")
                if int(hex_port, 16) != port or (protocol == "tcp" and fields[3] != TCP_LISTEN):
                    continue
                ip = _proc_net_address(host)
                if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                    ip = ip.ipv4_mapped
                if ip == wanted or (ip.is_unspecified and ip.version == wanted.version):
                    return True
    return False


class Daemon:
    """One daemon's configuration file, pid file and lifecycle; errors are ``failed``."""

    def __init__(self, name: str, config_file: Path, pid_file: Path,
                 failed: type[DaemonFailed] = DaemonFailed) -> None:
        self.name = name
        self.config_file = config_file
        self.pid_file = pid_file
        self.failed = failed

    def wait(self, condition: Callable[[], bool], what: str,
             timeout: float = START_TIMEOUT) -> None:
        wait_until(condition, timeout, what, self.failed)

    def master_pid(self) -> int | None:
        """The master's pid if it runs on our file (pid file and command line agree)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            # nginx rewrites its argv into one string ("nginx: master process … -c <file>"),
            # HAProxy keeps its arguments: a space-joined command line serves both.
            cmdline = b" " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            return None
        if f" {self.config_file} ".encode() not in cmdline + b" " or not process_alive(pid):
            return None
        return pid

    def check(self, text: str, argv: Callable[[Path], list[str]]) -> str | None:
        """Run the daemon's test mode (``argv(candidate)``) on ``text``: None if accepted,
        else its message. The running file is not touched."""
        candidate = self.config_file.with_name(self.config_file.name + ".new")
        candidate.write_text(text)
        try:
            result = subprocess.run(argv(candidate), capture_output=True, text=True,
                                    timeout=CHECK_TIMEOUT, check=False)
        finally:
            candidate.unlink(missing_ok=True)
        if result.returncode == 0:
            return None
        return (result.stderr or result.stdout).strip()

    def running(self, text: str) -> bool:
        """Whether the master runs on a file that already says ``text``."""
        with contextlib.suppress(OSError):
            return self.config_file.read_text() == text and self.master_pid() is not None
        return False

    def install(self, text: str) -> None:
        """Replace the configuration file in one step (a reader never sees half of it)."""
        new = self.config_file.with_name(self.config_file.name + ".tmp")
        new.write_text(text)
        os.replace(new, self.config_file)

    def start(self, argv: list[str], ready: Callable[[], bool]) -> None:
        """Run ``argv`` (which daemonizes) and wait for the master and ``ready``."""
        self.pid_file.unlink(missing_ok=True)
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, timeout=START_TIMEOUT,
                                check=False)
        if result.returncode != 0:
            raise self.failed(f"{self.name} did not start: {result.stderr.strip()}")
        self.wait(lambda: self.master_pid() is not None and ready(), f"{self.name} to start")
        LOG.info("%s started (master %s)", self.name, self.master_pid())

    def stop(self, forget: Iterable[Path] = ()) -> None:
        """SIGTERM the master, wait for it, remove its files and ``forget`` (idempotent)."""
        pid = self.master_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            self.wait(lambda: not process_alive(pid), f"{self.name} master {pid} to exit")
            LOG.info("%s stopped", self.name)
        for path in (self.config_file, self.pid_file, *forget):
            path.unlink(missing_ok=True)
