"""Issue 11's dual stack, with real packets: a load balancer whose VIP is on an IPv6
subnet, an HTTP pool with an IPv6 member in RegionTwo and an IPv4 member in
RegionOne (both networks stretched from the central region), a client on the IPv6
subnet answered by both, a UDP listener on the IPv6 VIP reaching the IPv4 member
(nginx's stream module translates the family; LVS, Octavia's, cannot), and an
ACTIVE_STANDBY pair handing its IPv6 VIP over (decision 089)."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lb_support import (
    amphora_namespace,
    amphorae,
    boot,
    kill,
    listener,
    namespace_pids,
    pool,
    requests,
    server_ip,
    udp_answers,
    whole_pair,
)

from tests_support import Cloud, wait_for

pytestmark = [pytest.mark.cloud, pytest.mark.root]

NET6, NET4 = "ds-net6", "ds-net4"
SUBNET6, SUBNET4 = "fd00:60::/64", "10.0.60.0/24"
GROUP = "ds-backends"
UDP_PORT = 5353
# name: (region, network, host)
BACKENDS = {
    "ds-backend6": ("RegionTwo", NET6, "RegionTwo-host1"),
    "ds-backend4": ("RegionOne", NET4, "RegionOne-host1"),
}

# Answers HTTP on port 80 (IPv6 and IPv4: a "::" socket takes both) and UDP on 5353
# with the instance's host name.
SERVERS = r"""#!/bin/sh
cat > /tmp/tcl-ds-servers.py <<'PY'
import http.server, socket, threading
NAME = socket.gethostname()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (NAME + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
def echo():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::", 5353))
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(NAME.encode(), peer)
threading.Thread(target=echo, daemon=True).start()
Server(("::", 80), Handler).serve_forever()
PY
exec python3 /tmp/tcl-ds-servers.py
"""

def _group(cloud: Cloud) -> str:
    """HTTP and UDP 5353 from anywhere, over both families."""
    made = cloud.openstack("security", "group", "create", GROUP, region="CentralRegion")
    for rule in (("--ethertype", "IPv6", "--protocol", "tcp", "--dst-port", "80"),
                 ("--ethertype", "IPv4", "--protocol", "tcp", "--dst-port", "80"),
                 ("--ethertype", "IPv6", "--protocol", "udp", "--dst-port", str(UDP_PORT)),
                 ("--ethertype", "IPv4", "--protocol", "udp", "--dst-port", str(UDP_PORT))):
        cloud.openstack("security", "group", "rule", "create", "--ingress", *rule,
                        str(made["id"]), region="CentralRegion")
    return str(made["id"])


@pytest.fixture(scope="module")
def dual(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """ds-net6 (IPv6 only) and ds-net4 (IPv4 only), a backend on each, lb-ds on ds-net6."""
    user_data: Path = tmp_path_factory.mktemp("ds") / "servers.sh"
    user_data.write_text(SERVERS)
    central = "CentralRegion"
    subnets = {}
    for net, cidr, version in ((NET6, SUBNET6, "6"), (NET4, SUBNET4, "4")):
        cloud.openstack("network", "create", net, region=central)
        subnets[net] = cloud.openstack("subnet", "create", "--network", net, "--ip-version",
                                       version, "--subnet-range", cidr, f"{net}-subnet",
                                       region=central)
    group = _group(cloud)
    ips = {}
    for name, (region, net, host) in BACKENDS.items():
        boot(cloud, name, net, region, host, user_data, groups=(group,))
        ips[name] = server_ip(cloud, name, region)
    lb = cloud.openstack("loadbalancer", "create", "--name", "lb-ds", "--vip-subnet-id",
                         subnets[NET6]["id"], "--wait")
    assert lb["provisioning_status"] == "ACTIVE", lb
    yield {"lb": lb, "subnets": subnets, "ips": ips}
    cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-ds")


def _member(cloud: Cloud, dual: dict[str, Any], pool_name: str, backend: str,
            port: int) -> None:
    subnet = dual["subnets"][BACKENDS[backend][1]]["id"]
    cloud.openstack("loadbalancer", "member", "create", "--name", backend, "--subnet-id",
                    subnet, "--address", dual["ips"][backend], "--protocol-port", str(port),
                    "--wait", pool_name)


def test_ipv6_vip_serves_http_from_an_ipv6_and_an_ipv4_member(
        cloud: Cloud, dual: dict[str, Any]) -> None:
    vip = dual["lb"]["vip_address"]
    assert ":" in vip and vip.startswith("fd00:60::"), vip
    assert ":" in dual["ips"]["ds-backend6"] and "." in dual["ips"]["ds-backend4"]
    listener(cloud, "ds-http", "HTTP", 80, lb="lb-ds")
    pool(cloud, "ds-http-pool", "ds-http", "HTTP", "ROUND_ROBIN")
    for backend in BACKENDS:
        _member(cloud, dual, "ds-http-pool", backend, 80)
    # curl -g: the brackets of an IPv6 URL are not a glob.
    url = f"http://[{vip}]/"
    answers = wait_for(lambda: (got := requests(cloud, NET6, url, 6, ("-g",)))
                       and set(got) == set(BACKENDS) and got, 60,
                       what="answers from both members")
    assert len(answers) == 6

    # A monitor over both families marks both members ONLINE.
    cloud.openstack("loadbalancer", "healthmonitor", "create", "--name", "ds-hm", "--delay",
                    "2", "--timeout", "1", "--max-retries", "1", "--type", "HTTP",
                    "--url-path", "/", "--wait", "ds-http-pool")

    def statuses() -> dict[str, str]:
        members = cloud.openstack("loadbalancer", "member", "list", "ds-http-pool")
        return {m["name"]: m["operating_status"] for m in members}
    wait_for(lambda: set(statuses().values()) == {"ONLINE"} or None, 60,
             what="both members ONLINE")


def test_udp_on_the_ipv6_vip_reaches_an_ipv4_member(
        cloud: Cloud, dual: dict[str, Any]) -> None:
    """An IPv4 member alone behind the IPv6 VIP (Octavia's LVS would answer 501), then
    an IPv6 member beside it in the same pool."""
    vip = dual["lb"]["vip_address"]
    listener(cloud, "ds-udp", "UDP", 53, lb="lb-ds")
    pool(cloud, "ds-udp-pool", "ds-udp", "UDP", "ROUND_ROBIN")
    _member(cloud, dual, "ds-udp-pool", "ds-backend4", UDP_PORT)

    def ask() -> list[str]:
        return udp_answers(cloud, NET6, vip, 53, 6)
    wait_for(lambda: ask() == ["ds-backend4"] * 6 or None, 60,
             what="UDP answers from the IPv4 member")
    _member(cloud, dual, "ds-udp-pool", "ds-backend6", UDP_PORT)
    wait_for(lambda: set(ask()) == set(BACKENDS) or None, 60,
             what="UDP answers from both families")


def _vip_holders(cloud: Cloud, lb: dict[str, Any]) -> list[str]:
    """The namespaces of the amphorae that hold the (IPv6) VIP now."""
    vip = ipaddress.ip_address(lb["vip_address"])
    found = []
    for amp in amphorae(cloud, lb["id"]):
        try:
            ns = amphora_namespace(cloud, str(amp["id"]))
        except AssertionError:  # replaced by a failover since it was listed
            continue
        out = subprocess.run(["ip", "-n", ns, "-o", "-6", "addr"], capture_output=True,
                             text=True, check=False).stdout
        if any(ipaddress.ip_address(word.split("/")[0]) == vip
               for line in out.splitlines() for word in line.split()[3:4]):
            found.append(ns)
    return found


def test_active_standby_pair_hands_over_an_ipv6_vip(
        cloud: Cloud, dual: dict[str, Any]) -> None:
    """VRRPv3 for an IPv6 VIP: the BACKUP takes it when the MASTER's HAProxy dies."""
    cloud.openstack("loadbalancer", "flavorprofile", "create", "--name", "ds-ha-profile",
                    "--provider", "amphora", "--flavor-data",
                    json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"}))
    cloud.openstack("loadbalancer", "flavor", "create", "--name", "ds-ha",
                    "--flavorprofile", "ds-ha-profile", "--enable")
    lb = cloud.openstack("loadbalancer", "create", "--name", "lb-ds-ha", "--vip-subnet-id",
                         dual["subnets"][NET6]["id"], "--flavor", "ds-ha", "--wait")
    try:
        listener(cloud, "ds-ha-http", "HTTP", 80, lb="lb-ds-ha")
        pool(cloud, "ds-ha-pool", "ds-ha-http", "HTTP", "ROUND_ROBIN")
        for backend in BACKENDS:
            _member(cloud, dual, "ds-ha-pool", backend, 80)
        url = f"http://[{lb['vip_address']}]/"

        def both() -> bool:
            return set(requests(cloud, NET6, url, 4, ("-g",))) == set(BACKENDS)
        wait_for(both, 60, what="answers from both members through the pair")
        wait_for(lambda: whole_pair(cloud, lb["id"]), 180, interval=2,
                 what="the pair whole before the failure")
        (holder,) = wait_for(lambda: _vip_holders(cloud, lb) or None, 30,
                             what="an amphora holding the VIP")
        kill(namespace_pids(holder, "haproxy"))
        # keepalived: two failed checks, then the BACKUP's unsolicited neighbour
        # adverts; meanwhile the health manager replaces the amphora that failed.
        wait_for(lambda: bool(_vip_holders(cloud, lb))
                 and holder not in _vip_holders(cloud, lb), 60,
                 what="the VIP on the other amphora only")
        wait_for(both, 60, what="answers again after the MASTER's HAProxy died")
    finally:
        cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-ds-ha")
