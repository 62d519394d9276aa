"""Member create in the other region → receiving traffic (median over ``--runs``).

lb1 in RegionOne has an HTTP listener and a pool with one member in
RegionOne. Each run adds a member in RegionTwo through the Octavia API and
times, from the POST, (a) until the load balancer is ACTIVE again and (b)
until a curl loop in a probe on lb-net1 (a new connection per request) is
answered by that member; then removes it again. Two kinds of member: on
lb-net1 stretched into RegionTwo (the spec's Fig. 1) and on lb-net2, a network
of RegionTwo, which the amphora must first be plugged into (Fig. 2; the port is
unplugged again when the member leaves, so every run pays for the plug).

    .venv/bin/python bench/member_create.py [--runs 5]
"""

from __future__ import annotations

import argparse
import time

from _api import Api
from _deploy import deployment
from _load import Watcher, machine, median, table
from _scenario import full

KINDS = {"remote1": "lb-net1 stretched (Fig. 1)", "remote2": "lb-net2 of RegionTwo (Fig. 2)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    context = machine()
    active: dict[str, list[float]] = {name: [] for name in KINDS}
    traffic: dict[str, list[float]] = {name: [] for name in KINDS}
    with deployment() as dep:
        api = Api(dep)
        sc = full(dep, api, ("local1", *KINDS))
        pool = api.listener_pool(sc.lb_id, 80)
        api.add_member(sc.lb_id, pool, sc.subnet1, sc.ips["local1"])
        watcher = Watcher(sc.probe, f"http://{sc.vip}/")
        try:
            for run in range(args.runs):
                for name in KINDS:
                    wall, start = time.time(), time.monotonic()
                    member = api.add_member(sc.lb_id, pool, sc.subnet_of(name), sc.ips[name],
                                            wait=False)
                    active[name].append(api.lb_active(sc.lb_id) - start)
                    traffic[name].append(watcher.wait_for(name, since=wall) - wall)
                    api.remove_member(sc.lb_id, pool, member)
                    print(f"run {run + 1}/{args.runs} {name}: ACTIVE {active[name][-1]:.2f} s, "
                          f"traffic {traffic[name][-1]:.2f} s", flush=True)
        finally:
            watcher.close()
    rows = [[KINDS[name], f"{median(active[name]):.2f}", f"{median(traffic[name]):.2f}",
             f"{min(traffic[name]):.2f}", f"{max(traffic[name]):.2f}"] for name in KINDS]
    table(f"Member create in RegionTwo for lb1 in RegionOne, {args.runs} runs "
          f"(seconds; {context})",
          ["member", "→ ACTIVE (median)", "→ traffic (median)", "min", "max"], rows)


if __name__ == "__main__":
    main()
