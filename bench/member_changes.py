"""Failed requests during ``--changes`` member changes under load.

lb1's pool keeps two members (one per region) while a third, in RegionTwo on
the stretched lb-net1, is created and deleted again and again through the
Octavia API, each change waiting for ACTIVE (the load balancer is immutable
while PENDING_UPDATE), so HAProxy reloads once per change. Meanwhile, from a
probe on lb-net1: wrk on keep-alive connections (back-to-back runs) and a
curl loop opening a new connection per request. A request fails if it gets
no answer, a socket error, or a status other than 2xx/3xx (curl: a body from
no member, such as HAProxy's 503 page).

    .venv/bin/python bench/member_changes.py [--changes 100] [--connections 8]
"""

from __future__ import annotations

import argparse
import collections
import threading
import time

from _api import Api
from _deploy import deployment
from _load import Watcher, WrkResult, machine, table, wrk
from _scenario import full

STABLE = ("local1", "remote2")
CHANGING = "remote1"


class CurlCounter(threading.Thread):
    """Reads the watcher's answers: how many, and the failures by kind (a curl exit
    code, or the first line of a body that is no member's name)."""

    def __init__(self, watcher: Watcher) -> None:
        super().__init__(daemon=True)
        self.watcher = watcher
        self.total = 0
        self.failures: collections.Counter[str] = collections.Counter()

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def run(self) -> None:
        assert self.watcher.proc.stdout is not None
        for line in self.watcher.proc.stdout:
            self.total += 1
            answer = line.strip().partition(" ")[2]
            if answer not in (*STABLE, CHANGING):
                self.failures[answer[:40]] += 1


class WrkLoad(threading.Thread):
    """wrk runs of ``seconds`` each, back to back, until stopped."""

    def __init__(self, namespace: str, url: str, connections: int, seconds: int = 5) -> None:
        super().__init__(daemon=True)
        self.args = (namespace, url, seconds)
        self.connections = connections
        self.stop = threading.Event()
        self.results: list[WrkResult] = []
        self.error: Exception | None = None

    def run(self) -> None:
        namespace, url, seconds = self.args
        try:
            while not self.stop.is_set():
                self.results.append(wrk(namespace, url, seconds, threads=1,
                                        connections=self.connections))
        except Exception as exc:  # reported by main: a figure without load is no figure
            self.error = exc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    context = machine()
    with deployment() as dep:
        api = Api(dep)
        sc = full(dep, api, (*STABLE, CHANGING))
        pool = api.listener_pool(sc.lb_id, 80)
        for name in STABLE:
            api.add_member(sc.lb_id, pool, sc.subnet_of(name), sc.ips[name])
        url = f"http://{sc.vip}/"
        load = WrkLoad(sc.probe, url, args.connections)
        watcher = Watcher(sc.probe, url)
        curl = CurlCounter(watcher)
        load.start()
        curl.start()
        start = time.monotonic()
        member = ""
        try:
            for change in range(args.changes):
                if member:
                    api.remove_member(sc.lb_id, pool, member)
                    member = ""
                else:
                    member = api.add_member(sc.lb_id, pool, sc.subnet1, sc.ips[CHANGING])
                if load.error:
                    raise RuntimeError(f"the wrk load stopped: {load.error}")
                if (change + 1) % 10 == 0:
                    print(f"{change + 1}/{args.changes} changes; curl {curl.failed} failed of "
                          f"{curl.total}; wrk {sum(r.failed for r in load.results)} failed of "
                          f"{sum(r.requests for r in load.results)}", flush=True)
        finally:
            elapsed = time.monotonic() - start
            load.stop.set()
            load.join()
            watcher.close()
    requests = sum(r.requests for r in load.results)
    rows = [["wrk, keep-alive", str(requests), str(sum(r.non_2xx for r in load.results)),
             str(sum(r.socket_errors for r in load.results))],
            ["curl loop, new connection each", str(curl.total), str(curl.failed),
             ", ".join(f"{kind}: {n}" for kind, n in curl.failures.items()) or "-"]]
    table(f"{args.changes} member changes (create/delete, each to ACTIVE) in "
          f"{elapsed:.0f} s under load ({context})",
          ["load", "requests", "failed", "socket errors / kinds"], rows)


if __name__ == "__main__":
    main()
