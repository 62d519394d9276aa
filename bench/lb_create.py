"""Load balancer create → ACTIVE and serving: median and p95 over ``--runs`` creates.

Each run POSTs a load balancer on lb-subnet1 in RegionOne (REST), polls it
every 0.1 s until ACTIVE, then pings its VIP from a probe on lb-net1 until it
answers ("serving": the amphora holds the VIP). The cascade delete that
follows is timed too.

    .venv/bin/python bench/lb_create.py [--runs 20]
"""

from __future__ import annotations

import argparse
import time

from _api import Api
from _deploy import deployment
from _load import machine, median, p95, ping, table
from _scenario import networks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    context = machine()
    active: list[float] = []
    serving: list[float] = []
    deleted: list[float] = []
    with deployment() as dep:
        api = Api(dep)
        sc = networks(api)
        probe = dep.probe("RegionOne", sc.net1)
        for run in range(args.runs):
            start = time.monotonic()
            lb = api.create_lb(f"bench-lb{run}", sc.subnet1)
            active.append(api.lb_active(lb["id"]) - start)
            while not ping(probe, lb["vip_address"]):
                if time.monotonic() - start > 120:
                    raise RuntimeError(f"VIP {lb['vip_address']} never answered")
            serving.append(time.monotonic() - start)
            start = time.monotonic()
            api.delete_lb(lb["id"])
            deleted.append(time.monotonic() - start)
            print(f"run {run + 1}/{args.runs}: ACTIVE {active[-1]:.2f} s, "
                  f"serving {serving[-1]:.2f} s, deleted {deleted[-1]:.2f} s", flush=True)
    rows = [[what, f"{median(v):.2f}", f"{p95(v):.2f}", f"{min(v):.2f}", f"{max(v):.2f}"]
            for what, v in (("create → ACTIVE", active),
                            ("create → ACTIVE and VIP answers", serving),
                            ("cascade delete → gone", deleted))]
    table(f"Load balancer create, {args.runs} runs (seconds; {context})",
          ["", "median", "p95", "min", "max"], rows)


if __name__ == "__main__":
    main()
