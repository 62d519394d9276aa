"""PROXY pools and PROMETHEUS listeners through the whole deployment, made with the real
``openstack`` CLI on lb-e2e: members in two regions read the PROXY header HAProxy sends
and report the client it names; a PROMETHEUS listener serves HAProxy's own metrics."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from lb_support import NET1, backend_group, listener, member, pool, requests

from tests_support import Cloud, wait_for

pytestmark = pytest.mark.cloud

PORT = 8088  # the listener's (lb-e2e keeps test_loadbalancer_traffic's TCP 8080)
MEMBER_PORT = 8080  # the members' PROXY-reading servers
METRICS_PORT = 9100
MEMBERS = {"lb-backend1": "RegionOne", "lb-backend3": "RegionTwo"}

# Answers one HTTP request per connection with "<host name> <TCP peer> <PROXY line>": the
# peer is the amphora, the PROXY line names the client HAProxy accepted.
PROXY_SERVER = r"""cat > /tmp/tcl-proxy-web.py <<'PY'
import socket, socketserver
NAME = socket.gethostname()
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        proxy = self.rfile.readline().decode().strip()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        body = f"{NAME} {self.client_address[0]} {proxy}\n".encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("", 8080), Handler).serve_forever()
PY
nohup python3 /tmp/tcl-proxy-web.py >/dev/null 2>&1 &
"""


def _probe_address(cloud: Cloud) -> str:
    """The IPv4 address of the test's probe on lb-net1 (the client HAProxy sees)."""
    result = cloud.exec("RegionOne", "sh", "-c", "ip -4 -o addr show scope global",
                        network=NET1)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[3].split("/")[0]


def test_proxy_pool_members_see_the_client_and_prometheus_serves_metrics(
        cloud: Cloud, spec: dict[str, Any]) -> None:
    group = backend_group(cloud)
    rule = cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol",
                           "tcp", "--dst-port", str(MEMBER_PORT), group, region="CentralRegion")
    vip = spec["lb"]["vip_address"]
    try:
        for backend, region in MEMBERS.items():
            started = cloud.exec(region, "sh", "-c", PROXY_SERVER, server=backend)
            assert started.returncode == 0, started.stderr
        listener(cloud, "proxy-listener", "TCP", PORT)
        made = pool(cloud, "proxy-pool", "proxy-listener", "PROXY", "ROUND_ROBIN")
        assert made["protocol"] == "PROXY"
        for backend in MEMBERS:
            member(cloud, "proxy-pool", spec, backend, port=MEMBER_PORT)
        client = _probe_address(cloud)

        def answers() -> list[list[str]] | None:
            lines = requests(cloud, NET1, f"http://{vip}:{PORT}/", 6)
            seen = [line.split() for line in lines]
            return seen if {words[0] for words in seen} == set(MEMBERS) else None

        for words in wait_for(answers, 60, what="both PROXY members answering"):
            name, peer, proxy = words[0], words[1], words[2:]
            # "PROXY TCP4 <client> <vip> <client port> <listener port>"
            assert proxy[:4] == ["PROXY", "TCP4", client, vip], words
            assert proxy[5] == str(PORT), words
            assert peer != client and ipaddress.ip_address(peer), (name, words)

        metrics = listener(cloud, "metrics-listener", "PROMETHEUS", METRICS_PORT)
        assert metrics["protocol"] == "PROMETHEUS"
        def scrape() -> list[str] | None:
            lines = requests(cloud, NET1, f"http://{vip}:{METRICS_PORT}/metrics", 1)
            return lines if any(line.startswith("haproxy_") for line in lines) else None

        scraped = wait_for(scrape, 30, what="HAProxy's metrics on the PROMETHEUS listener")
        # curl -s prints the whole exposition; the PROXY frontend's counters are in it.
        assert any(line.startswith("haproxy_frontend_connections_total") for line in scraped)
    finally:
        for name in ("metrics-listener", "proxy-listener"):
            cloud.openstack_raw("loadbalancer", "listener", "delete", "--wait", name)
        cloud.openstack_raw("loadbalancer", "pool", "delete", "--wait", "proxy-pool")
        cloud.openstack_raw("security", "group", "rule", "delete", str(rule["id"]),
                            region="CentralRegion")
        for backend, region in MEMBERS.items():
            cloud.exec(region, "pkill", "-f", "tcl-proxy-web", server=backend)
