"""Health monitors of UDP pools, run by the amphora agent itself.

Open-source nginx has no active health checks (and Octavia's keepalived, which
checks UDP members for LVS, is not what serves UDP here), so the agent probes
each member of a monitored UDP pool every ``delay`` seconds, as keepalived
would for Octavia:

- ``UDP-CONNECT``: an empty datagram from a connected UDP socket; an ICMP
  error back (port or host unreachable: the kernel turns it into
  ``ECONNREFUSED``/``EHOSTUNREACH`` on the socket) within ``timeout`` means
  down, a reply or silence means up (UDP services need not answer);
- ``TCP``: a TCP connection within ``timeout``;
- ``HTTP``/``HTTPS``: ``http_method url_path`` (HTTP/1.1, ``Host:
  domain_name`` if set) answered with one of ``expected_codes`` (HTTPS without
  verifying the certificate, as HAProxy's ``check-ssl``);
- ``PING``: one ICMP echo by ``ping``.

A member goes down after ``max_retries_down`` failed probes in a row and up
again after ``max_retries`` good ones (HAProxy's ``fall``/``rise``); a new
member starts up. ``monitor_address``/``monitor_port`` replace the member's
own when set. Each change calls ``on_change`` (from the checker's thread).
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tricircle_lb.loadbalancer.amphora.model import HealthMonitor

LOG = logging.getLogger(__name__)
MAX_PARALLEL_PROBES = 8
_ICMP_ERRORS = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)


@dataclass(frozen=True)
class Target:
    """One member as its pool's monitor probes it."""

    pool_id: str
    member_id: str
    address: str
    port: int
    monitor: HealthMonitor


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def udp_connect(address: str, port: int, timeout: float) -> bool:
    """Up unless an ICMP error answers a datagram within ``timeout``."""
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.send(b"")
            sock.recv(1)
        except TimeoutError:
            return True  # silence: the port is open or filtered, as keepalived's UDP_CHECK
        except OSError as exc:
            return exc.errno not in _ICMP_ERRORS
    return True


def tcp_connect(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _expected(codes: str, status: int) -> bool:
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= status <= int(high if high.isdigit() else low):
            return True
    return False


def http_check(address: str, port: int, timeout: float, monitor: HealthMonitor) -> bool:
    conn: http.client.HTTPConnection
    if monitor.type == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(address, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    headers = {"Connection": "close", "User-Agent": "tricircle-lb-health"}
    if monitor.domain_name:
        headers["Host"] = monitor.domain_name
    try:
        conn.request(monitor.http_method, monitor.url_path, headers=headers)
        return _expected(monitor.expected_codes, conn.getresponse().status)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def ping(address: str, timeout: float) -> bool:
    try:
        return subprocess.run(
            ["ping", "-6" if ":" in address else "-4", "-n", "-q", "-c", "1",
             "-W", str(max(1, int(timeout))), address],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=timeout + 2, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def probe(target: Target) -> bool:
    """One check of ``target`` by its monitor's type."""
    hm = target.monitor
    if hm.type == "UDP-CONNECT":
        return udp_connect(target.address, target.port, hm.timeout)
    if hm.type == "TCP":
        return tcp_connect(target.address, target.port, hm.timeout)
    if hm.type in ("HTTP", "HTTPS"):
        return http_check(target.address, target.port, hm.timeout, hm)
    return ping(target.address, hm.timeout)


class _State:
    def __init__(self) -> None:
        self.up = True
        self.streak = 0  # probes in a row that disagree with ``up``


class HealthChecker:
    """Probes every target of :meth:`update`; :meth:`down` says who is down."""

    def __init__(self, on_change: Callable[[], None],
                 prober: Callable[[Target], bool] = probe) -> None:
        self._on_change = on_change
        self._probe = prober
        self._lock = threading.Lock()
        self._states: dict[Target, _State] = {}
        self._threads: list[tuple[threading.Event, threading.Thread]] = []
        self._pool = ThreadPoolExecutor(MAX_PARALLEL_PROBES, thread_name_prefix="udp-probe")

    def update(self, targets: Iterable[Target]) -> None:
        """Probe these targets from now on; a target already probed keeps its state."""
        wanted = set(targets)
        self._stop_threads()
        with self._lock:
            self._states = {t: self._states.get(t) or _State() for t in wanted}
        by_pool: dict[tuple[str, HealthMonitor], list[Target]] = {}
        for target in wanted:
            by_pool.setdefault((target.pool_id, target.monitor), []).append(target)
        for (pool_id, monitor), members in sorted(by_pool.items(), key=lambda kv: kv[0][0]):
            stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(monitor, members, stop),
                                      name=f"udp-health-{pool_id}", daemon=True)
            self._threads.append((stop, thread))
            thread.start()

    def down(self) -> set[str]:
        """Ids of the members found down."""
        with self._lock:
            return {t.member_id for t, s in self._states.items() if not s.up}

    def is_up(self, pool_id: str, member_id: str) -> bool | None:
        """Whether the member is up (None: it is not monitored)."""
        with self._lock:
            for t, s in self._states.items():
                if t.pool_id == pool_id and t.member_id == member_id:
                    return s.up
        return None

    def close(self) -> None:
        self._stop_threads()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _stop_threads(self) -> None:
        for stop, _ in self._threads:
            stop.set()
        for _, thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(10)
        self._threads = []

    def _run(self, monitor: HealthMonitor, targets: list[Target], stop: threading.Event) -> None:
        while not stop.is_set():
            results = list(self._pool.map(self._safe_probe, targets))
            if stop.is_set():
                return
            if self._record(monitor, targets, results):
                try:
                    self._on_change()
                except Exception:
                    LOG.exception("applying a member status change failed")
            stop.wait(monitor.delay)

    def _safe_probe(self, target: Target) -> bool:
        try:
            return self._probe(target)
        except Exception:
            LOG.exception("probe of member %s failed", target.member_id)
            return False

    def _record(self, monitor: HealthMonitor, targets: list[Target], results: list[bool]) -> bool:
        changed = False
        with self._lock:
            for target, ok in zip(targets, results, strict=True):
                state = self._states.get(target)
                if state is None:  # replaced meanwhile
                    continue
                if ok == state.up:
                    state.streak = 0
                    continue
                state.streak += 1
                if state.streak >= (monitor.max_retries if ok else monitor.max_retries_down):
                    state.up, state.streak, changed = ok, 0, True
                    LOG.info("UDP member %s (%s port %d) is %s", target.member_id,
                             target.address, target.port, "up" if ok else "down")
        return changed
