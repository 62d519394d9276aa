"""Amphora failure → traffic flowing again, for ACTIVE_STANDBY and SINGLE load balancers.

An ACTIVE_STANDBY load balancer (a flavor with ``loadbalancer_topology``
ACTIVE_STANDBY) and a SINGLE one, each with an HTTP listener and two nginx
members (local1 in RegionOne, remote1 in RegionTwo on lb-net1), take a
request loop from a probe on lb-net1: curl with a 0.5 s timeout every 50 ms,
each answer stamped. Each run kills the amphora that holds the VIP (for
ACTIVE_STANDBY keepalived's MASTER, whichever role it was built for) and
measures, from the kill:

- *flowing again*: the first answered request after the last failure of the
  outage (the outage ends once answers have flowed for 2 s without a failure);
- *failed*: requests that failed from the kill until the load balancer is whole
  again (also any failing later, while the health manager replaces the amphora);
- *whole again*: the health manager has replaced the dead amphora (the killed
  one gone, two ALLOCATED amphorae, MASTER and BACKUP, or one for SINGLE) and the
  load balancer is ACTIVE. The next run starts only then (a series stops if
  that has not happened within 300 s).

``--mode amphora`` (default) loses the whole amphora: SIGKILL to every process
of its namespace, then the namespace is deleted, as a VM takes its kernel with
it (a namespace left behind would keep answering ARP for the VIP).
``--mode haproxy`` kills only the MASTER's HAProxy processes; keepalived's check
script moves the VIP. ``--mode api`` kills nothing: ``loadbalancer failover``
through the API replaces both amphorae (a controlled swap: the VIP is handed
over before its holder goes); *whole again* then means both replaced.
SINGLE runs always lose the whole amphora.

    .venv/bin/python bench/failover.py [--runs 10] [--single-runs 3] [--mode amphora]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _api import Api, Body
from _deploy import Deployment, deployment
from _load import machine, median, table
from _scenario import Scenario, boot_members, networks

BACKENDS = ("local1", "remote1")
TIMEOUT = 0.5  # curl --max-time: a request slower than this counts as failed
PERIOD = 0.05  # pause between requests
STEADY = 2.0  # answers without a failure for this long end an outage
SETTLE = 3.0  # kept watching after the load balancer is whole again
WHOLE_TIMEOUT = 300.0


class RequestLoop:
    """curl from the probe, one new connection per request; every answer kept as
    (wall-clock time, answered) by a reader thread."""

    def __init__(self, namespace: str, url: str) -> None:
        script = (f'while :; do b=$(curl -s --max-time {TIMEOUT} "{url}") || b=FAIL; '
                  f'echo "$(date +%s.%N) $b"; sleep {PERIOD}; done')
        self.proc = subprocess.Popen(["ip", "netns", "exec", namespace, "sh", "-c", script],
                                     stdout=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._samples: list[tuple[float, bool]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            stamp, _, answer = line.strip().partition(" ")
            with self._lock:
                self._samples.append((float(stamp), bool(answer) and answer != "FAIL"))

    def between(self, start: float, end: float) -> list[tuple[float, bool]]:
        with self._lock:
            return [s for s in self._samples if start <= s[0] <= end]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=5)


@dataclass(frozen=True)
class Outage:
    flowing_s: float  # kill → first answer after the outage's last failure (0: none failed)
    failed: int  # failed requests from the kill to the end of the window
    later: int  # of those, failed after the outage ended (during the replacement)
    requests: int


def measure(samples: Sequence[tuple[float, bool]], kill: float) -> Outage:
    """The outage in ``samples`` (time-ordered, all after ``kill``): it starts at the
    first failure and ends at the first answer followed by ``STEADY`` s of answers."""
    failed = sum(1 for _, ok in samples if not ok)
    recovered: float | None = None
    in_outage = False
    for stamp, ok in samples:
        if not ok:
            in_outage, recovered = True, None
        elif in_outage and recovered is None:
            recovered = stamp
        elif recovered is not None and stamp - recovered >= STEADY:
            break
    else:
        if in_outage:
            raise RuntimeError("traffic not flowing again before the end of the window")
    if recovered is None:  # no request failed
        return Outage(0.0, 0, 0, len(samples))
    later = sum(1 for stamp, ok in samples if not ok and stamp > recovered)
    return Outage(recovered - kill, failed, later, len(samples))


@dataclass(frozen=True)
class Run:
    outage: Outage
    whole_s: float | None  # None: not whole again within WHOLE_TIMEOUT


# -- the deployment's amphorae ----------------------------------------------------

def amphorae(api: Api, lb_id: str) -> list[Body]:
    return [a for a in api.lb("GET", "/octavia/amphorae")["amphorae"]
            if a["loadbalancer_id"] == lb_id]


def namespace(dep: Deployment, amphora: Body) -> str:
    """The amphora's namespace: the instance namespace of its compute server."""
    return f"{dep.prefix}i-{str(amphora['compute_id']).replace('-', '')[:12]}"


def poll(condition: Callable[[], Any], timeout: float) -> Any:
    """``condition()``'s first true value, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    return None


def vip_holder(dep: Deployment, api: Api, lb: Body) -> Body:
    """The ALLOCATED amphora whose namespace holds the VIP now."""
    def holder() -> Body | None:
        for amp in amphorae(api, lb["id"]):
            if amp["status"] != "ALLOCATED":
                continue
            addrs = subprocess.run(["ip", "-n", namespace(dep, amp), "-o", "addr"],
                                   capture_output=True, text=True, check=False).stdout
            if f" {lb['vip_address']}/" in addrs:
                return amp
        return None
    found: Body | None = poll(holder, 60)
    if found is None:
        raise RuntimeError(f"no amphora of {lb['id']} holds the VIP")
    return found


def whole(api: Api, lb_id: str, replaced: set[str], roles: list[str]) -> bool:
    """The ``replaced`` amphorae gone: their successors ALLOCATED, the load balancer ACTIVE."""
    amps = amphorae(api, lb_id)
    status = api.lb("GET", f"/lbaas/loadbalancers/{lb_id}")["loadbalancer"][
        "provisioning_status"]
    return (status == "ACTIVE" and all(a["id"] not in replaced for a in amps)
            and all(a["status"] == "ALLOCATED" for a in amps)
            and sorted(a["role"] for a in amps) == roles)


def pids(ns: str, comm: str | None) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                         check=False).stdout.split()
    return [int(p) for p in out if comm is None or _comm(int(p)) == comm]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill(ns: str, mode: str) -> None:
    """SIGKILL the amphora's HAProxy, or every process of it and then its namespace."""
    for pid in pids(ns, "haproxy" if mode == "haproxy" else None):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if mode == "amphora":
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)


# -- setup and runs -----------------------------------------------------------------

def flavor(api: Api, topology: str) -> str:
    """A flavor (and its profile) for ``topology``; its id."""
    profile = api.lb("POST", "/lbaas/flavorprofiles", {"flavorprofile": {
        "name": f"{topology.lower()}-profile", "provider_name": "amphora",
        "flavor_data": json.dumps({"loadbalancer_topology": topology})}})["flavorprofile"]
    found = api.lb("POST", "/lbaas/flavors", {"flavor": {
        "name": topology.lower(), "flavor_profile_id": profile["id"], "enabled": True}})
    return str(found["flavor"]["id"])


def load_balancers(api: Api, sc: Scenario, topologies: Sequence[str]) -> dict[str, Body]:
    """One load balancer per topology (booted together), each with an HTTP listener on
    port 80 and ``BACKENDS`` in its pool."""
    lbs = {topo: api.lb("POST", "/lbaas/loadbalancers", {"loadbalancer": {
        "name": f"lb-{topo.lower()}", "vip_subnet_id": sc.subnet1,
        "flavor_id": flavor(api, topo)}})["loadbalancer"] for topo in topologies}
    for lb in lbs.values():
        api.lb_active(lb["id"])
        pool = api.listener_pool(lb["id"], 80)
        for name in BACKENDS:
            api.add_member(lb["id"], pool, sc.subnet_of(name), sc.ips[name])
    return lbs


def failover_run(dep: Deployment, api: Api, loop: RequestLoop, lb: Body, mode: str,
                 roles: list[str]) -> Run:
    victim = vip_holder(dep, api, lb)
    replaced = {a["id"] for a in amphorae(api, lb["id"])} if mode == "api" else {victim["id"]}
    kill_at, start = time.time(), time.monotonic()
    if mode == "api":
        api.lb("PUT", f"/lbaas/loadbalancers/{lb['id']}/failover")
    else:
        kill(namespace(dep, victim), mode)
    done = poll(lambda: whole(api, lb["id"], replaced, roles), WHOLE_TIMEOUT)
    whole_s = time.monotonic() - start if done else None
    time.sleep(SETTLE)
    return Run(measure(loop.between(kill_at, time.time()), kill_at), whole_s)


def series(dep: Deployment, api: Api, loop: RequestLoop, lb: Body, mode: str,
           runs: int, label: str) -> list[Run]:
    roles = sorted(a["role"] for a in amphorae(api, lb["id"]))
    results: list[Run] = []
    for run in range(runs):
        r = failover_run(dep, api, loop, lb, mode, roles)
        results.append(r)
        whole_text = (f"{r.whole_s:.1f} s" if r.whole_s is not None
                      else f"not within {WHOLE_TIMEOUT:.0f} s: stopping this series")
        print(f"{label} run {run + 1}/{runs}: flowing again {r.outage.flowing_s:.2f} s, "
              f"{r.outage.failed} of {r.outage.requests} requests failed "
              f"({r.outage.later} after the outage), whole again {whole_text}", flush=True)
        if r.whole_s is None:
            break
    return results


def report(label: str, runs: list[Run]) -> list[list[str]]:
    flowing = [r.outage.flowing_s for r in runs]
    whole_s = [r.whole_s for r in runs if r.whole_s is not None]
    never = f"never ({len(runs) - len(whole_s)})"
    failed = ", ".join(str(r.outage.failed) for r in runs)
    later = sum(r.outage.later for r in runs)
    return [[label, f"{median(flowing):.2f}", f"{max(flowing):.2f}", failed, str(later),
             f"{median(whole_s):.1f}" if whole_s else never,
             f"{max(whole_s):.1f}" if len(whole_s) == len(runs) else never]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10,
                        help="ACTIVE_STANDBY failovers (0: none)")
    parser.add_argument("--single-runs", type=int, default=3,
                        help="SINGLE amphora losses (0: none)")
    parser.add_argument("--mode", choices=("amphora", "haproxy", "api"), default="amphora",
                        help="what ACTIVE_STANDBY runs kill on the MASTER (api: a "
                             "load-balancer failover through the API)")
    args = parser.parse_args()
    plan = [(topo, n) for topo, n in (("ACTIVE_STANDBY", args.runs),
                                      ("SINGLE", args.single_runs)) if n > 0]
    context = machine()
    rows: list[list[str]] = []
    with deployment() as dep:
        api = Api(dep)
        sc = networks(api)
        boot_members(dep, api, sc, BACKENDS)
        lbs = load_balancers(api, sc, [topo for topo, _ in plan])
        sc.probe = dep.probe("RegionOne", sc.net1)
        for topo, runs in plan:
            mode = args.mode if topo == "ACTIVE_STANDBY" else "amphora"
            label = {"amphora": f"{topo}, {'MASTER' if topo == 'ACTIVE_STANDBY' else 'amphora'}"
                                " lost",
                     "haproxy": f"{topo}, MASTER's HAProxy killed",
                     "api": f"{topo}, failover API (controlled swap)"}[mode]
            loop = RequestLoop(sc.probe, f"http://{lbs[topo]['vip_address']}/")
            try:
                time.sleep(5)
                before = loop.between(0, time.time())
                print(f"{topo} before any failure: {sum(not ok for _, ok in before)} of "
                      f"{len(before)} requests failed", flush=True)
                rows += report(label, series(dep, api, loop, lbs[topo], mode, runs, topo))
            finally:
                loop.close()
    table(f"Amphora failure → traffic flowing again, curl every {PERIOD * 1000:.0f} ms with "
          f"a {TIMEOUT} s timeout (seconds; {', '.join(f'{t} {n} runs' for t, n in plan)}; "
          f"{context})",
          ["failure", "flowing again (median)", "max", "failed per run",
           "of them later (all runs)", "whole again (median)", "max"], rows)


if __name__ == "__main__":
    main()
