"""Requests per second and latency through the load balancer, against two baselines.

From one probe on lb-net1 in RegionOne, with the same wrk command line for
every target:

* direct: straight to one member (nginx, fixed body);
* plain HAProxy: a hand-written HAProxy configuration in an instance on the
  amphora's own host, plugged into the same networks the same way (the limit
  this design can reach: same HAProxy, same path, no control plane);
* load balancer: lb1's VIP (the amphora built through the Octavia API).

For members in RegionOne (listener 80) and members in RegionTwo over VXLAN
(listener 8080: one on lb-net1 stretched, Fig. 1; one on lb-net2, Fig. 2).
Targets are interleaved over ``--rounds`` rounds; the medians are printed.

    .venv/bin/python bench/throughput.py [--rounds 3] [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import subprocess

from _api import Api
from _deploy import deployment
from _load import WrkResult, machine, median, table, wrk
from _scenario import full, user_data

# The amphora's global and defaults sections, written by hand, with one
# frontend per member set: what an operator would write without Octavia.
PLAIN_HAPROXY = """#!/bin/sh
d=@ROOT@/srv-$(hostname)
mkdir -p $d
cat > $d/haproxy.cfg <<CONF
global
    master-worker
    maxconn 1992

defaults
    mode http
    retries 3
    option redispatch
    timeout connect 5s
    timeout client 50s
    timeout server 50s

frontend local
    bind :80
    default_backend local

frontend remote
    bind :8080
    default_backend remote

backend local
    balance roundrobin
    server local1 {local1}:80
    server local2 {local2}:80

backend remote
    balance roundrobin
    server remote1 {remote1}:80
    server remote2 {remote2}:80
CONF
exec haproxy -W -db -f $d/haproxy.cfg
"""

SETS = {"local": ("RegionOne members", 80, ("local1", "local2")),
        "remote": ("RegionTwo members (VXLAN)", 8080, ("remote1", "remote2"))}


def _check(namespace: str, url: str) -> None:
    """One request must be answered by a member before a target is measured."""
    body = subprocess.run(["ip", "netns", "exec", namespace, "curl", "-s", "-m3", url],
                          capture_output=True, text=True, check=False).stdout.strip()
    if not body.startswith(("local", "remote")):
        raise RuntimeError(f"{url} answered {body!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    context = machine()
    results: dict[tuple[str, str], list[WrkResult]] = {}
    with deployment() as dep:
        api = Api(dep)
        sc = full(dep, api)
        plain_id = api.boot("RegionOne", "plain-haproxy", [sc.net1, sc.net2],
                            api.amphora_host(sc.lb_id),
                            user_data(dep, PLAIN_HAPROXY.format(**sc.ips)))
        for _, port, members in SETS.values():
            pool = api.listener_pool(sc.lb_id, port)
            for name in members:
                api.add_member(sc.lb_id, pool, sc.subnet_of(name), sc.ips[name])
        plain = next(a for a in Api.addresses(api.server("RegionOne", plain_id))
                     if a.startswith("10.0.10."))
        targets = {}
        for key, (_, port, members) in SETS.items():
            targets[(key, "direct")] = f"http://{sc.ips[members[0]]}/"
            targets[(key, "plain")] = f"http://{plain}:{port}/"
            targets[(key, "lb")] = f"http://{sc.vip}:{port}/"
        for url in targets.values():
            _check(sc.probe, url)
        for rnd in range(args.rounds):
            for target, url in targets.items():
                result = wrk(sc.probe, url, args.seconds, connections=args.connections)
                results.setdefault(target, []).append(result)
                print(f"round {rnd + 1}: {target[0]:6} {target[1]:6} {result.rps:9.0f} req/s "
                      f"p50 {result.p50_ms:.2f} ms p99 {result.p99_ms:.2f} ms "
                      f"failed {result.failed}", flush=True)
    _print(results, args, context)


def _print(results: dict[tuple[str, str], list[WrkResult]], args: argparse.Namespace,
           context: str) -> None:
    names = {"direct": "direct to one member", "plain": "plain HAProxy (hand-written)",
             "lb": "load balancer (amphora)"}
    for key, (title, _, _) in SETS.items():
        rps = {kind: median([r.rps for r in results[(key, kind)]]) for kind in names}
        rows = []
        for kind, label in names.items():
            runs = results[(key, kind)]
            rows.append([label, f"{rps[kind]:.0f}",
                         f"{median([r.p50_ms for r in runs]):.2f}",
                         f"{median([r.p99_ms for r in runs]):.2f}",
                         str(sum(r.failed for r in runs)),
                         f"{rps[kind] / rps['direct']:.2f}", f"{rps[kind] / rps['plain']:.2f}"])
        table(f"{title}: wrk -t2 -c{args.connections} -d{args.seconds}s, median of "
              f"{args.rounds} rounds ({context})",
              ["target", "req/s", "p50 ms", "p99 ms", "failed", "/ direct", "/ plain"], rows)


if __name__ == "__main__":
    main()
