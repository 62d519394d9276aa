"""The amphora's keepalived: VRRP between the two amphorae of an ACTIVE_STANDBY pair.

Files under the agent's state directory: ``keepalived.conf`` (rendered from
``templates/keepalived.conf.j2``), ``keepalived.pid`` and ``keepalived-vrrp.pid``
(the parent and its VRRP child), ``keepalived.log``, and two scripts the
agent writes for keepalived to run:

- ``vrrp-check-haproxy``: exits 0 when HAProxy's master runs and its stats
  socket answers; every second, two failures in a row put the instance in
  FAULT (it sends priority 0 and drops the VIP, so the peer takes over at
  once), two successes bring it back as BACKUP;
- ``vrrp-notify``: records each transition (MASTER, BACKUP, FAULT) in
  ``vrrp-state``, which ``GET /info`` reports.

keepalived runs detached from the agent, so an agent restart leaves it (and
the VIP) alone; the next agent adopts it. A changed configuration is checked
with ``keepalived -t`` first, then loaded with SIGHUP.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from tricircle_lb.loadbalancer.amphora.agent import udp
from tricircle_lb.loadbalancer.amphora.agent.haproxy import HAProxy, process_alive

LOG = logging.getLogger(__name__)

START_TIMEOUT = 15.0
STATES = frozenset({"MASTER", "BACKUP", "FAULT"})
# The HAProxy check: run every second, two results in a row change the state.
CHECK_INTERVAL, CHECK_FALL, CHECK_RISE = 1, 2, 2
# Octavia's defaults: a MASTER repeats its gratuitous ARPs (2) every 5 s.
GARP_REFRESH, GARP_REFRESH_REPEAT = 5, 2
MAX_PEERS = 8

_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
# keepalived truncates a longer PASS password to 8 characters; refuse it instead.
_AUTH_PASS = re.compile(r"[A-Za-z0-9._~+/=-]{1,8}")
# Paths written into keepalived.conf and the scripts, unquoted by keepalived's parser.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]+")


class InvalidVrrp(ValueError):
    """The VRRP settings or ``keepalived -t`` refused them (keepalived untouched)."""


class KeepalivedFailed(RuntimeError):
    """keepalived did not start, reload or stop as asked."""


def _int(value: int, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidVrrp(f"{name} must be an integer from {low} to {high}")


def _ip(value: str, name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        if isinstance(value, str):
            return ipaddress.ip_address(value)
    except ValueError:
        pass
    raise InvalidVrrp(f"{name} must be an IP address")


@dataclass(frozen=True)
class VrrpConfig:
    """One amphora's side of the pair; the constructor refuses anything unsafe or wrong."""

    interface: str
    vip: str
    prefixlen: int
    vrrp_ip: str
    peers: tuple[str, ...]
    priority: int
    vrid: int
    advert_int: int
    auth_pass: str
    # True only while the controller hands the VIP over to this amphora: it takes the
    # VIP from a lower-priority MASTER at once (make-before-break), then goes back to
    # nopreempt.
    preempt: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.interface, str) or not _IFNAME.fullmatch(self.interface):
            raise InvalidVrrp("interface must be a network interface name")
        vip, own = _ip(self.vip, "vip"), _ip(self.vrrp_ip, "vrrp_ip")
        _int(self.prefixlen, "prefixlen", 1, vip.max_prefixlen)
        _int(self.priority, "priority", 1, 254)  # 255 is the address owner's
        _int(self.vrid, "vrid", 1, 255)
        _int(self.advert_int, "advert_int", 1, 255)
        if not isinstance(self.preempt, bool):
            raise InvalidVrrp("preempt must be true or false")
        if not isinstance(self.auth_pass, str) or not _AUTH_PASS.fullmatch(self.auth_pass):
            raise InvalidVrrp("auth_pass must be 1 to 8 letters, digits or ._~+/=-")
        if not isinstance(self.peers, tuple) or not 1 <= len(self.peers) <= MAX_PEERS:
            raise InvalidVrrp(f"peers must list 1 to {MAX_PEERS} addresses")
        peers = [_ip(p, "peers") for p in self.peers]
        # The VRRP port is on the VIP's subnet: one address family for all.
        if any(p.version != vip.version for p in (own, *peers)):
            raise InvalidVrrp("vip, vrrp_ip and peers must be of one address family")
        if own in peers or vip in (own, *peers) or len(set(peers)) != len(peers):
            raise InvalidVrrp("vip, vrrp_ip and peers must be distinct addresses")
        # Normalised text: what keepalived.conf holds is exactly what was checked.
        object.__setattr__(self, "vip", str(vip))
        object.__setattr__(self, "vrrp_ip", str(own))
        object.__setattr__(self, "peers", tuple(str(p) for p in peers))

    @property
    def ipv6(self) -> bool:
        return ipaddress.ip_address(self.vrrp_ip).version == 6


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tricircle_lb.loadbalancer.amphora", "templates"),
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True)
    return env.get_template("keepalived.conf.j2")


_CHECK_SCRIPT = '''#!{python} -IS
"""keepalived's vrrp_script: exit 0 when HAProxy's master runs and its stats socket answers
and, if the load balancer has UDP listeners, nginx runs too (decision 087)."""
import os
import socket
import sys

def haproxy():
    with open({pid_file!r}) as f:
        os.kill(int(f.read().split()[0]), 0)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        s.connect({stats_socket!r})
        s.sendall(b"show info\\n")
        return s.recv(64).startswith(b"Name:")

def nginx():
    with open({udp_pid_file!r}) as f:
        os.kill(int(f.read().split()[0]), 0)
    return True

try:
    udp = os.path.exists({udp_saved!r})
    # UDP listeners only: HAProxy has nothing to serve and is not running.
    ok = (haproxy() if not udp or os.path.exists({haproxy_config!r}) else True) \\
        and (nginx() if udp else True)
except (OSError, ValueError, IndexError):
    ok = False
sys.exit(0 if ok else 1)
'''

_NOTIFY_SCRIPT = '''#!/bin/sh
# keepalived's notify: $3 is the new state of the VRRP instance.
printf '%s\\n' "$3" > {tmp}.$$ && mv -f {tmp}.$$ {state}
'''


class Keepalived:
    def __init__(self, binary: str, state_dir: Path, haproxy: HAProxy) -> None:
        state_dir = state_dir.absolute()
        if not _SAFE_PATH.fullmatch(str(state_dir)):
            raise ValueError(f"state directory {state_dir} has characters keepalived "
                             "cannot take unquoted")
        self.binary = binary
        self.haproxy = haproxy
        self.config_file = state_dir / "keepalived.conf"
        self.pid_file = state_dir / "keepalived.pid"
        self.vrrp_pid_file = state_dir / "keepalived-vrrp.pid"
        self.log_file = state_dir / "keepalived.log"
        self.check_script = state_dir / "vrrp-check-haproxy"
        self.notify_script = state_dir / "vrrp-notify"
        self.state_file = state_dir / "vrrp-state"

    @property
    def configured(self) -> bool:
        return self.config_file.exists()

    def render(self, vrrp: VrrpConfig) -> str:
        return _template().render(
            vrrp=vrrp, check_script=self.check_script, notify_script=self.notify_script,
            check_interval=CHECK_INTERVAL, check_fall=CHECK_FALL, check_rise=CHECK_RISE,
            garp_refresh=GARP_REFRESH, garp_refresh_repeat=GARP_REFRESH_REPEAT)

    # -- the running daemon -------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of our keepalived parent if it runs (pid file and command line agree)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        if str(self.config_file).encode() not in cmdline or not process_alive(pid):
            return None
        return pid

    def state(self) -> str | None:
        """MASTER, BACKUP or FAULT as keepalived last announced it; None when not running."""
        if self.pid() is None:
            return None
        with contextlib.suppress(OSError):
            state = self.state_file.read_text().strip()
            if state in STATES:
                return state
        return None

    def resume(self) -> None:
        """After an agent restart: adopt a running keepalived, else start the saved file."""
        pid = self.pid()
        if pid is not None:
            LOG.info("adopting running keepalived %d", pid)
        elif self.configured:
            LOG.info("keepalived is not running: starting it on %s", self.config_file)
            self._write_scripts()
            self._start()

    # -- changes ------------------------------------------------------------------

    def apply(self, vrrp: VrrpConfig) -> None:
        """Check, install, then start or reload keepalived (nothing to do if unchanged)."""
        text = self.render(vrrp)
        self._write_scripts()
        running = self.pid()
        with contextlib.suppress(OSError):
            if running is not None and self.config_file.read_text() == text:
                return
        self._check(text)
        new = self.config_file.with_suffix(".conf.tmp")
        new.write_text(text)
        os.replace(new, self.config_file)
        if running is None:
            self._start()
        else:
            os.kill(running, signal.SIGHUP)
            LOG.info("keepalived %d reloading", running)

    def stop(self) -> None:
        """Stop keepalived (it removes the VIP as it exits) and forget its files."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            self._wait(lambda: not process_alive(pid), f"keepalived {pid} to exit")
            LOG.info("keepalived stopped")
        for path in (self.config_file, self.pid_file, self.vrrp_pid_file, self.state_file,
                     self.check_script, self.notify_script):
            path.unlink(missing_ok=True)

    def _check(self, text: str) -> None:
        candidate = self.config_file.with_suffix(".conf.new")
        candidate.write_text(text)
        try:
            result = subprocess.run([self.binary, "-t", "-f", str(candidate)],
                                    capture_output=True, text=True, timeout=30, check=False)
        finally:
            candidate.unlink(missing_ok=True)
        if result.returncode != 0:
            raise InvalidVrrp(f"keepalived -t: {(result.stderr or result.stdout).strip()}")

    def _write_scripts(self) -> None:
        state_dir = self.config_file.parent
        check = _CHECK_SCRIPT.format(python=sys.executable,
                                     pid_file=str(self.haproxy.pid_file),
                                     stats_socket=str(self.haproxy.stats_socket),
                                     haproxy_config=str(self.haproxy.config_file),
                                     udp_saved=str(state_dir / udp.SAVED_FILE),
                                     udp_pid_file=str(state_dir / udp.PID_FILE))
        tmp = shlex.quote(str(self.state_file) + ".tmp")
        notify = _NOTIFY_SCRIPT.format(tmp=tmp, state=shlex.quote(str(self.state_file)))
        for path, text in ((self.check_script, check), (self.notify_script, notify)):
            # keepalived's script security: root's, and writable by root only.
            new = path.with_name(path.name + ".tmp")
            new.write_text(text)
            new.chmod(0o700)
            os.replace(new, path)

    def _start(self) -> None:
        self.state_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            # setsid -f: keepalived is nobody's child here, like a daemon, but
            # stays in the foreground (-n) so its log (-l) goes to our file.
            result = subprocess.run(
                ["setsid", "-f", self.binary, "-n", "-l", "-P", "-f", str(self.config_file),
                 "-p", str(self.pid_file), "-r", str(self.vrrp_pid_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                timeout=START_TIMEOUT, check=False)
        if result.returncode != 0:
            raise KeepalivedFailed(f"setsid keepalived exited with {result.returncode}")
        self._wait(lambda: self.pid() is not None and self._vrrp_alive(),
                   "keepalived to start (see keepalived.log)")
        LOG.info("keepalived started (pid %s)", self.pid())

    def _vrrp_alive(self) -> bool:
        try:
            return process_alive(int(self.vrrp_pid_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            return False

    @staticmethod
    def _wait(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise KeepalivedFailed(f"timed out waiting for {what}")
            time.sleep(0.05)
