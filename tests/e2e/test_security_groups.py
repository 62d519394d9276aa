"""Issue 10's acceptance: security groups, port security and anti-spoofing in the data plane.

Real packets between instances in two regions on a network stretched across
them; the host agents enforce each port's groups with nftables on its host
(decision 055). Probes (``tricircle-lb exec --network``) have no port
security: they are the unfiltered clients here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lb_support import AZ, WEB_SERVER, servers_active, servers_gone

from tests_support import Cloud, wait_for

pytestmark = [pytest.mark.cloud, pytest.mark.root]

NET = "sg-net"
CIDR = "10.0.40.0/24"
FORGED_IP = "10.0.40.250"
FORGED_MAC = "fa:16:3e:de:ad:01"
ROUND = 15.0  # one agent round (1 s) plus the region's mirror sync, with margin


def _group(cloud: Cloud, name: str, *rules: tuple[str, ...]) -> dict[str, Any]:
    group: dict[str, Any] = cloud.openstack("security", "group", "create", name,
                                            region="CentralRegion")
    for rule in rules:
        cloud.openstack("security", "group", "rule", "create", "--ingress", *rule, name,
                        region="CentralRegion")
    return group


def _boot(cloud: Cloud, name: str, region: str, host: str, user_data: Path,
          *groups: str) -> dict[str, Any]:
    """Request the server; the fixture waits for all of them at once."""
    options = [arg for group in groups for arg in ("--security-group", group)]
    server: dict[str, Any] = cloud.openstack(
        "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", NET,
        "--availability-zone", f"{AZ[region]}:{host}", "--user-data", str(user_data),
        *options, name, region=region)
    return {"id": server["id"], "region": region}


def _booted(cloud: Cloud, server: dict[str, Any]) -> dict[str, Any]:
    """``server`` (from :func:`_boot`, ACTIVE by now) with its port, address and namespace."""
    region = server["region"]
    port = cloud.openstack("port", "list", "--server", server["id"], region=region)[0]
    return {"id": server["id"], "region": region, "port": port["ID"],
            "ip": port["Fixed IP Addresses"][0]["ip_address"],
            "ns": f"{cloud.prefix}i-{server['id'].replace('-', '')[:12]}"}


@pytest.fixture(scope="module")
def sg(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """sg-net stretched over both regions; a (web, peer) in RegionOne, b (closed, peer)
    and c (closed) in RegionTwo, every one running the web server."""
    user_data = tmp_path_factory.mktemp("sg") / "web.sh"
    user_data.write_text(WEB_SERVER)
    cloud.openstack("network", "create", NET, region="CentralRegion")
    cloud.openstack("subnet", "create", "--subnet-range", CIDR, "--gateway", "none",
                    "--network", NET, "sg-subnet", region="CentralRegion")
    _group(cloud, "sg-web", ("--protocol", "tcp", "--dst-port", "80"))
    _group(cloud, "sg-closed")
    _group(cloud, "sg-peer", ("--protocol", "icmp", "--remote-group", "sg-peer"))
    servers = {
        "a": _boot(cloud, "sg-a", "RegionOne", "RegionOne-host1", user_data,
                   "sg-web", "sg-peer"),
        "b": _boot(cloud, "sg-b", "RegionTwo", "RegionTwo-host1", user_data,
                   "sg-closed", "sg-peer"),
        "c": _boot(cloud, "sg-c", "RegionTwo", "RegionTwo-host2", user_data, "sg-closed"),
    }
    servers_active(cloud, {s["id"]: s["region"] for s in servers.values()})
    servers = {key: _booted(cloud, server) for key, server in servers.items()}
    probe = cloud.exec("RegionOne", "ip", "-4", "-o", "addr", "show", network=NET)
    assert probe.returncode == 0, probe.stderr
    probe_ip = next(word.split("/")[0] for word in probe.stdout.split()
                    if word.startswith("10.0.40."))
    # The web servers are up once a answers (its group lets HTTP in).
    wait_for(lambda: _curl(cloud, servers["a"]["ip"]).returncode == 0, timeout=90)
    yield {**servers, "probe_ip": probe_ip}
    for server in servers.values():
        cloud.openstack_raw("server", "delete", server["id"], region=server["region"])
    servers_gone(cloud, {s["id"]: s["region"] for s in servers.values()})


def _curl(cloud: Cloud, ip: str) -> subprocess.CompletedProcess[str]:
    return cloud.exec("RegionOne", "curl", "-s", "--max-time", "2", f"http://{ip}/",
                      network=NET)


def _ping_from_probe(cloud: Cloud, ip: str) -> bool:
    return cloud.exec("RegionOne", "ping", "-c", "1", "-W", "1", ip,
                      network=NET).returncode == 0


def _in(ns: str, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in an instance's network namespace, as root (what the guest sends)."""
    return subprocess.run(["ip", "netns", "exec", ns, *command], capture_output=True,
                          text=True, timeout=30, check=False)


def _ping_from(server: dict[str, Any], ip: str, *options: str) -> bool:
    return _in(server["ns"], "ping", "-c", "1", "-W", "2", *options, ip).returncode == 0


def test_a_rule_lets_in_and_no_rule_drops(cloud: Cloud, sg: dict[str, Any]) -> None:
    answer = _curl(cloud, sg["a"]["ip"])
    assert answer.returncode == 0 and answer.stdout.strip() == "sg-a", answer
    assert _curl(cloud, sg["b"]["ip"]).returncode != 0  # sg-closed: no ingress rule
    assert not _ping_from_probe(cloud, sg["a"]["ip"])  # sg-web lets in HTTP only
    assert not _ping_from_probe(cloud, sg["b"]["ip"])


def test_a_rule_added_takes_effect_within_a_round(cloud: Cloud, sg: dict[str, Any]) -> None:
    rule = cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol",
                           "tcp", "--dst-port", "80", "sg-closed", region="RegionTwo")
    try:
        # RegionTwo's agents: b is in RegionTwo; the rule was made through RegionTwo.
        wait_for(lambda: _curl(cloud, sg["b"]["ip"]).stdout.strip() == "sg-b", timeout=ROUND)
        assert _curl(cloud, sg["c"]["ip"]).stdout.strip() == "sg-c"
    finally:
        cloud.openstack_raw("security", "group", "rule", "delete", rule["id"],
                            region="RegionTwo").check_returncode()
    wait_for(lambda: _curl(cloud, sg["b"]["ip"]).returncode != 0, timeout=ROUND)


def test_an_established_connection_survives_a_rule_change(cloud: Cloud,
                                                          sg: dict[str, Any]) -> None:
    # A ping from a to the probe is a flow a started: its answers come back (established)
    # whatever a's ingress rules, and keep coming while the groups change.
    ping = subprocess.Popen(["ip", "netns", "exec", sg["a"]["ns"], "ping", "-c", "8", "-i",
                             "0.5", "-W", "1", sg["probe_ip"]], stdout=subprocess.PIPE,
                            text=True)
    rule = cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol",
                           "udp", "--dst-port", "9999", "sg-web", region="RegionOne")
    out, _ = ping.communicate(timeout=30)
    cloud.openstack_raw("security", "group", "rule", "delete", rule["id"],
                        region="RegionOne").check_returncode()
    assert ping.returncode == 0 and " 0% packet loss" in out, out


def test_remote_group_rule(cloud: Cloud, sg: dict[str, Any]) -> None:
    # ICMP in from members of sg-peer only: a (RegionOne) reaches b (RegionTwo), c does not.
    assert wait_for(lambda: _ping_from(sg["a"], sg["b"]["ip"]), timeout=ROUND)
    assert not _ping_from(sg["c"], sg["b"]["ip"])
    assert _ping_from(sg["b"], sg["a"]["ip"])  # the other way too: a is in sg-peer


def test_a_forged_source_address_is_dropped(cloud: Cloud, sg: dict[str, Any]) -> None:
    a = sg["a"]
    assert _ping_from(a, sg["probe_ip"])  # a's own address goes out
    added = _in(a["ns"], "ip", "addr", "add", f"{FORGED_IP}/24", "dev", "eth0")
    assert added.returncode == 0, added.stderr
    try:
        assert not _ping_from(a, sg["probe_ip"], "-I", FORGED_IP)
        assert _ping_from(a, sg["probe_ip"])
    finally:
        _in(a["ns"], "ip", "addr", "del", f"{FORGED_IP}/24", "dev", "eth0")


def test_a_forged_mac_is_dropped(cloud: Cloud, sg: dict[str, Any]) -> None:
    # A second device on eth0 with a MAC of its own and a's address: the frames it sends
    # leave through a's port (the agent only manages eth0 itself).
    a, probe = sg["a"], sg["probe_ip"]
    made = _in(a["ns"], "sh", "-c",
               f"ip link add link eth0 name forged0 address {FORGED_MAC} type macvlan "
               f"mode private && ip addr add {a['ip']}/32 dev forged0 && "
               f"ip link set forged0 up")
    assert made.returncode == 0, made.stderr
    try:
        assert not _ping_from(a, probe, "-I", "forged0")
    finally:
        _in(a["ns"], "ip", "link", "del", "forged0")
    assert _ping_from(a, probe)


def test_port_security_disabled_is_unfiltered(cloud: Cloud, sg: dict[str, Any]) -> None:
    c = sg["c"]
    assert not _ping_from_probe(cloud, c["ip"])
    cloud.openstack_raw("port", "set", "--no-security-group", "--disable-port-security",
                        c["port"], region="RegionTwo").check_returncode()
    assert wait_for(lambda: _ping_from_probe(cloud, c["ip"]), timeout=ROUND)
    # No anti-spoofing either: c may answer from any address it gives itself.
    assert _in(c["ns"], "ip", "addr", "add", f"{FORGED_IP}/24", "dev", "eth0").returncode == 0
    try:
        assert _ping_from(c, sg["probe_ip"], "-I", FORGED_IP)
    finally:
        _in(c["ns"], "ip", "addr", "del", f"{FORGED_IP}/24", "dev", "eth0")
