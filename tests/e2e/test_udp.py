"""UDP load balancing through the API: a UDP listener on lb-e2e, members in two regions,
a UDP-CONNECT monitor that marks a stopped member ERROR, and traffic that skips it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lb_support import NET1, backend_group, listener, member, pool, udp_answers

from tests_support import Cloud, wait_for

pytestmark = pytest.mark.cloud

UDP_PORT = 5353  # the members' echo servers
VIP_PORT = 53
UDP_BACKENDS = ("lb-backend1", "lb-backend3", "lb-backend4")  # RegionOne; RegionTwo net1, net2
REGION = {"lb-backend1": "RegionOne", "lb-backend3": "RegionTwo", "lb-backend4": "RegionTwo"}

# Answers each datagram with the instance's host name.
ECHO = r"""cat > /tmp/tcl-udp-echo.py <<'PY'
import socket
name = socket.gethostname().encode()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("", 5353))
while True:
    data, peer = sock.recvfrom(2048)
    if data:
        sock.sendto(name, peer)
PY
nohup python3 /tmp/tcl-udp-echo.py >/dev/null 2>&1 &
"""

def _ask(cloud: Cloud, vip: str, count: int = 12) -> list[str]:
    return udp_answers(cloud, NET1, vip, VIP_PORT, count)


def _start_echo(cloud: Cloud, backend: str) -> None:
    result = cloud.exec(REGION[backend], "sh", "-c", ECHO, server=backend)
    assert result.returncode == 0, result.stderr


def _statuses(cloud: Cloud, pool_name: str) -> dict[str, str]:
    members = cloud.openstack("loadbalancer", "member", "list", pool_name)
    return {m["name"]: m["operating_status"] for m in members}


def test_udp_listener_across_regions_with_udp_connect_monitor(
        cloud: Cloud, spec: dict[str, Any]) -> None:
    group = backend_group(cloud)
    rule = cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol",
                           "udp", "--dst-port", str(UDP_PORT), group, region="CentralRegion")
    try:
        for backend in UDP_BACKENDS:
            _start_echo(cloud, backend)
        listener(cloud, "udp-listener", "UDP", VIP_PORT)
        pool(cloud, "udp-pool", "udp-listener", "UDP", "ROUND_ROBIN")
        for backend in UDP_BACKENDS:
            member(cloud, "udp-pool", spec, backend, port=UDP_PORT)
        vip = spec["lb"]["vip_address"]
        wait_for(lambda: set(_ask(cloud, vip)) == set(UDP_BACKENDS) or None, 60,
                 what="answers from the three members")

        # Counted by the amphora's nftables table (decision 091): each of those
        # datagrams came from a new source port, so each is a session.
        def counted() -> dict[str, Any] | None:
            stats: dict[str, Any] = cloud.openstack("loadbalancer", "listener", "stats",
                                                    "show", "udp-listener")
            return stats if stats["total_connections"] >= 12 else None
        stats = wait_for(counted, 30, what="the UDP listener's statistics from heartbeats")
        assert stats["bytes_in"] >= 12 * (20 + 8 + len("hello")) and stats["bytes_out"] > 0
        assert stats["request_errors"] == 0

        hm = cloud.openstack("loadbalancer", "healthmonitor", "create", "--name", "udp-hm",
                             "--type", "UDP-CONNECT", "--delay", "3", "--timeout", "2",
                             "--max-retries", "1", "--max-retries-down", "1", "--wait",
                             "udp-pool")
        assert hm["type"] == "UDP-CONNECT"
        wait_for(lambda: set(_statuses(cloud, "udp-pool").values()) == {"ONLINE"} or None,
                 60, what="the UDP members ONLINE")

        # Stop RegionTwo's echo on net1: ICMP port unreachable answers the monitor.
        cloud.exec("RegionTwo", "pkill", "-f", "tcl-udp-echo", server="lb-backend3")
        wait_for(lambda: _statuses(cloud, "udp-pool")["lb-backend3"] == "ERROR" or None, 60,
                 what="lb-backend3 ERROR")
        shown = cloud.openstack("loadbalancer", "pool", "show", "udp-pool")
        assert shown["operating_status"] == "DEGRADED"
        wait_for(lambda: set(_ask(cloud, vip)) == {"lb-backend1", "lb-backend4"} or None, 30,
                 what="traffic skipping the stopped member")

        _start_echo(cloud, "lb-backend3")
        wait_for(lambda: _statuses(cloud, "udp-pool")["lb-backend3"] == "ONLINE" or None, 60,
                 what="lb-backend3 ONLINE again")
        assert set(_ask(cloud, vip)) == set(UDP_BACKENDS)
        status = cloud.openstack_raw("loadbalancer", "status", "show", "lb-e2e")
        tree = json.loads(status.stdout)["loadbalancer"]
        (udp,) = (li for li in tree["listeners"] if li["name"] == "udp-listener")
        assert udp["operating_status"] == "ONLINE", udp
        assert {m["name"]: m["operating_status"] for m in udp["pools"][0]["members"]} == {
            b: "ONLINE" for b in UDP_BACKENDS}
    finally:
        cloud.openstack_raw("loadbalancer", "listener", "delete", "--wait", "udp-listener")
        cloud.openstack_raw("loadbalancer", "pool", "delete", "--wait", "udp-pool")
        cloud.openstack_raw("security", "group", "rule", "delete", str(rule["id"]),
                            region="CentralRegion")
        for backend in UDP_BACKENDS:
            cloud.exec(REGION[backend], "pkill", "-f", "tcl-udp-echo", server=backend)
