"""Traffic from a probe namespace: wrk runs, a watching curl loop, a ping, and the figures.

Every tool runs with ``ip netns exec`` in the probe's namespace, so traffic
takes the tenant path (probe port → bridge → VXLAN → amphora or member) and
never the root namespace's routes.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import resource
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

CONSOLE = Console()
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors


def _ms(text: str) -> float:
    """wrk's latency (``812.00us``, ``1.20ms``, ``2.00s``, ``1.00m``); NaN when wrk has
    none to show (``-nanus`` after a run where nothing completed)."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return float(found.group(1)) * _UNIT[found.group(2)] if found else math.nan


def parse_wrk(out: str) -> WrkResult:
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(requests, rps, _ms(p50.group(1)) if p50 else 0.0,
                     _ms(p99.group(1)) if p99 else 0.0,
                     int(non2xx.group(1)) if non2xx else 0,
                     sum(int(n) for n in sock.groups()) if sock else 0)


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20000)), hard))


def wrk(namespace: str, url: str, seconds: int, threads: int = 2,
        connections: int = 32) -> WrkResult:
    """One wrk run from ``namespace`` (keep-alive connections, the latency histogram)."""
    out = subprocess.run(
        ["ip", "netns", "exec", namespace, "wrk", f"-t{threads}", f"-c{connections}",
         f"-d{seconds}s", "--timeout", "2s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
        preexec_fn=_raise_open_files).stdout
    return parse_wrk(out)


def ping(namespace: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", namespace, "ping", "-c1", "-W1", address],
                          capture_output=True, check=False).returncode == 0


class Watcher:
    """A curl loop in the probe (new connection per request, 2 s timeout, as wrk's), each
    answer stamped with the wall clock, so ``wait_for`` skips what was queued before
    ``since``. A request curl gives up on reads ``FAIL:<curl exit code>``."""

    def __init__(self, namespace: str, url: str) -> None:
        script = (f'while :; do b=$(curl -s -m2 "{url}") || b="FAIL:$?"; '
                  'echo "$(date +%s.%N) $b"; done')
        self.proc = subprocess.Popen(["ip", "netns", "exec", namespace, "sh", "-c", script],
                                     stdout=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_for(self, body: str, since: float, timeout: float = 120) -> float:
        """Wall-clock time of the first answer from ``body`` sent after ``since``."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            stamp, _, answer = line.strip().partition(" ")
            if answer == body and float(stamp) >= since:
                return float(stamp)
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"{body} never answered within {timeout}s")

    def close(self) -> None:
        """Stop the loop and the curl it may be running."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (of 20 runs: the 19th)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    CONSOLE.print(t)


def machine() -> str:
    """What the figures were measured on (cores, load before the run)."""
    return (f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
            f"at start (shared with every service of the deployment)")
