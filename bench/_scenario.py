"""The spec's scenario, sized for benchmarks: networks, nginx members, lb1, a probe.

lb-net1 (10.0.10.0/24) is created at central and stretched into both regions;
lb-net2 (10.0.20.0/24) lives in RegionTwo. Members answer a fixed body from
nginx (one worker, no logging), so they are never what limits a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from _api import Api
from _deploy import Deployment

# @ROOT@ is the deployment's temporary directory: instances share the host's
# /tmp, and that directory goes away with the deployment.
NGINX = """#!/bin/sh
d=@ROOT@/srv-$(hostname)
mkdir -p $d
cat > $d/nginx.conf <<CONF
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  keepalive_requests 1000000;
  server {
    listen 80;
    default_type text/plain;
    location / { return 200 "$(hostname)\\n"; }
  }
}
CONF
exec nginx -c $d/nginx.conf
"""

# name: (region, network key, host). local* share RegionOne with the amphora;
# remote1 is on lb-net1 stretched into RegionTwo (the spec's Fig. 1), remote2 on
# lb-net2, a network of RegionTwo (Fig. 2).
MEMBERS = {
    "local1": ("RegionOne", "net1", "RegionOne-host1"),
    "local2": ("RegionOne", "net1", "RegionOne-host2"),
    "remote1": ("RegionTwo", "net1", "RegionTwo-host1"),
    "remote2": ("RegionTwo", "net2", "RegionTwo-host2"),
}


@dataclass
class Scenario:
    net1: str
    subnet1: str
    net2: str = ""
    subnet2: str = ""
    lb_id: str = ""
    vip: str = ""
    probe: str = ""
    ips: dict[str, str] = field(default_factory=dict)

    def subnet_of(self, member: str) -> str:
        return self.subnet2 if MEMBERS[member][1] == "net2" else self.subnet1


def networks(api: Api) -> Scenario:
    net1, subnet1 = api.network("CentralRegion", "lb-net1", "10.0.10.0/24")
    net2, subnet2 = api.network("RegionTwo", "lb-net2", "10.0.20.0/24")
    return Scenario(net1, subnet1, net2, subnet2)


def user_data(dep: Deployment, script: str) -> str:
    return script.replace("@ROOT@", str(dep.root))


def boot_members(dep: Deployment, api: Api, sc: Scenario, names: Sequence[str]) -> None:
    """Boot nginx members (in parallel) and record their addresses."""
    nets = {"net1": sc.net1, "net2": sc.net2}
    ids = {name: api.boot(MEMBERS[name][0], name, [nets[MEMBERS[name][1]]],
                          MEMBERS[name][2], user_data(dep, NGINX)) for name in names}
    with ThreadPoolExecutor(len(ids)) as pool:
        servers = dict(zip(ids, pool.map(lambda n: api.server(MEMBERS[n][0], ids[n]), ids),
                           strict=True))
    sc.ips.update({name: Api.addresses(s)[0] for name, s in servers.items()})


def full(dep: Deployment, api: Api, members: Sequence[str] = tuple(MEMBERS)) -> Scenario:
    """Networks, ``members`` booted, lb1 ACTIVE on lb-subnet1 and a probe on lb-net1."""
    sc = networks(api)
    lb = api.create_lb("lb1", sc.subnet1)
    sc.lb_id, sc.vip = lb["id"], lb["vip_address"]
    boot_members(dep, api, sc, members)
    api.lb_active(sc.lb_id)
    sc.probe = dep.probe("RegionOne", sc.net1)
    return sc
