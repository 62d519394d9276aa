"""Real HTTP requests to a VIP from a probe namespace, streamed back one line per request.

A small client runs inside the probe's namespace (``ip netns exec``, like
``tricircle-lb exec``) with this interpreter: one new connection per request
(so round robin is visible), a short timeout (so a failover shows as
failures, not as a hang), and one line per request on stdout that the demo
reads as it comes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 1.0

# argv: url, count (0: unbounded), duration in seconds (0: unbounded)
_CLIENT = r"""
import http.client, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
count, duration, timeout = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
start = time.monotonic()
n = 0
while (not count or n < count) and (not duration or time.monotonic() - start < duration):
    n += 1
    sent = time.monotonic()
    try:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        conn.request("GET", url.path or "/")
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace").strip().replace("\t", " ")
        conn.close()
        line = ("OK" if resp.status == 200 else "FAIL") + "\t" + (body or str(resp.status))
    except Exception as exc:
        line = "FAIL\t" + type(exc).__name__
        # A refused connection returns at once: pace retries as a timeout would.
        time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
    print("%.3f\t%s" % (time.monotonic() - start, line), flush=True)
"""


@dataclass(frozen=True)
class Answer:
    at: float      # seconds since the client started
    ok: bool
    body: str      # the backend's name, or why the request failed


def requests(namespace: str, url: str, count: int = 0,
             duration: float = 0.0) -> Iterator[Answer]:
    """Send requests to ``url`` from ``namespace``; yield each answer as it arrives."""
    cmd = ["ip", "netns", "exec", namespace, sys.executable, "-c", _CLIENT, url, str(count),
           str(duration), str(REQUEST_TIMEOUT)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                at, status, body = line.rstrip("\n").split("\t", 2)
                yield Answer(float(at), status == "OK", body)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@dataclass
class Tally:
    """Per-second counts of a request loop, and the longest time without an answer."""

    ok: int = 0
    failed: int = 0
    last_ok: float = 0.0
    outage: float = 0.0
    per_second: dict[int, list[int]] = field(default_factory=dict)  # second: [ok, failed]

    def add(self, answer: Answer) -> None:
        counts = self.per_second.setdefault(int(answer.at), [0, 0])
        counts[0 if answer.ok else 1] += 1
        if answer.ok:
            self.outage = max(self.outage, answer.at - self.last_ok)
            self.last_ok = answer.at
            self.ok += 1
        else:
            self.failed += 1
