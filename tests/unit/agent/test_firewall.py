"""Security groups rendered as nftables, and the agent loading them (no root needed)."""

from __future__ import annotations

from pathlib import Path

from agent_testing import HOST_NS, FakeRuntime, Region, agent_config, host_dataplane

from tricircle_lb.agent import firewall
from tricircle_lb.agent.service import Agent
from tricircle_lb.dataplane.names import bridge_name, tap_name
from tricircle_lb.dataplane.packet_filter import FakePacketFilter

Body = dict[str, object]
WEB = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
       "port_range_min": 80, "port_range_max": 80}
EGRESS = {"direction": "egress", "ethertype": "IPv4"}


def port(port_id: str, mac: str, ip: str, groups: list[str], **extra: object) -> Body:
    return {"id": port_id, "network_id": "net-1", "mac_address": mac,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip}], "security_groups": groups,
            "device_owner": "compute:nova", "port_security_enabled": True, **extra}


def group(group_id: str, *rules: dict[str, object], stateful: bool = True) -> Body:
    return {"id": group_id, "stateful": stateful, "security_group_rules": list(rules)}


def script(ports: list[Body], groups: list[Body], plugged: list[str] | None = None,
           others: list[Body] | None = None) -> str:
    ids = plugged if plugged is not None else [str(p["id"]) for p in ports]
    spec = firewall.build(plugged=[(i, "net-1") for i in ids], ports=ports + (others or []),
                          groups=groups)
    return firewall.render(spec)[1]


def chain(text: str, name: str) -> list[str]:
    start = text.index(f"chain {name} {{")
    body = text[start:text.index("\n  }\n", start)]
    return [line.strip() for line in body.splitlines()[1:] if line.strip()]


def test_replaces_only_its_own_tables_in_one_script() -> None:
    text = script([port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"])],
                  [group("g1", EGRESS)])
    assert text.startswith("table bridge tricircle_sg\ndelete table bridge tricircle_sg\n"
                           "table inet tricircle_sg\ndelete table inet tricircle_sg\n")
    assert "flush ruleset" not in text and "conntrack" not in text


def test_anti_spoofing_allows_fixed_ips_pairs_and_link_local() -> None:
    p = port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"],
             allowed_address_pairs=[{"ip_address": "10.0.0.100"},
                                    {"ip_address": "192.168.7.0/24",
                                     "mac_address": "fa:16:3e:00:00:99"}])
    text = script([p], [group("g1")])
    tap = tap_name("p1-aaaa")
    assert f'"{tap}" . fa:16:3e:00:00:01 . 10.0.0.5' in text
    assert f'"{tap}" . fa:16:3e:00:00:01 . 10.0.0.100' in text
    assert f'"{tap}" . fa:16:3e:00:00:99 . 192.168.7.0/24' in text
    assert f'"{tap}" . fa:16:3e:00:00:99' in text  # a pair's MAC may send
    assert f'"{tap}" . fa:16:3e:00:00:01 . fe80::f816:3eff:fe00:1' in text
    rules = chain(text, "prerouting")
    assert rules[0] == "type filter hook prerouting priority -300; policy accept;"
    assert "iifname . ether saddr != @macs drop" in rules
    assert rules[-1] == "drop"


def test_link_local_is_eui64() -> None:
    assert firewall.link_local("fa:16:3e:12:34:56") == "fe80::f816:3eff:fe12:3456"


def test_rules_become_ingress_and_egress_chains() -> None:
    rules = [
        WEB, EGRESS,
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp",
         "port_range_min": 8, "port_range_max": 0, "remote_ip_prefix": "10.1.0.0/16"},
        {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "112"},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "17",
         "port_range_min": 5000, "port_range_max": 5010},
        {"direction": "egress", "ethertype": "IPv4", "protocol": "tcp",
         "port_range_min": 443, "port_range_max": 443, "remote_ip_prefix": "0.0.0.0/0"},
    ]
    text = script([port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"])],
                  [group("g1", *rules)])
    assert chain(text, "in_p1aaaa") == [
        "meta nfproto ipv4 meta l4proto tcp th dport 80 accept",
        "meta nfproto ipv4 ip saddr 10.1.0.0/16 meta l4proto icmp icmp type 8 icmp code 0 "
        "accept",
        "meta nfproto ipv6 meta l4proto ipv6-icmp accept",
        "meta nfproto ipv4 meta l4proto 112 accept",
        "meta nfproto ipv4 meta l4proto udp th dport 5000-5010 accept",
        "drop"]
    assert chain(text, "out_p1aaaa") == [
        "meta nfproto ipv4 return",
        "meta nfproto ipv4 meta l4proto tcp th dport 443 return",
        "drop"]
    assert "fa:16:3e:00:00:01 : jump in_p1aaaa" in text
    assert "fa:16:3e:00:00:01 : jump out_p1aaaa" in text


def test_no_rule_means_default_deny_ingress() -> None:
    text = script([port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"])],
                  [group("g1", EGRESS)])
    assert chain(text, "in_p1aaaa") == ["drop"]


def test_forward_chain_order() -> None:
    text = script([port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"])],
                  [group("g1")])
    rules = chain(text, "forward")
    assert rules[1] == "ct state established,related accept"
    assert rules[2].startswith("meta l4proto ipv6-icmp icmpv6 type { nd-router-solicit")
    assert rules[3] == "ct state invalid drop"
    assert rules[-2:] == ["ether saddr vmap @egress", "ether daddr vmap @ingress"]


def test_remote_group_is_a_named_set_of_its_members() -> None:
    member_rule = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                   "port_range_min": 22, "port_range_max": 22, "remote_group_id": "g-web"}
    local = port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g-web"])
    remote = port("p2-bbbb", "fa:16:3e:00:00:02", "10.0.0.6", ["g-web"],
                  device_owner="compute:shadow")
    stranger = port("p3-cccc", "fa:16:3e:00:00:03", "10.0.0.7", ["g-other"])
    text = script([local], [group("g-web", member_rule)], others=[remote, stranger])
    assert "set rg_gweb_v4 { type ipv4_addr; flags interval; elements = { 10.0.0.5, " \
           "10.0.0.6 } }" in text
    assert "meta nfproto ipv4 ip saddr @rg_gweb_v4 meta l4proto tcp th dport 22 accept" \
        in chain(text, "in_p1aaaa")


def test_port_security_disabled_and_network_ports_are_not_filtered() -> None:
    open_port = port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", [],
                     port_security_enabled=False)
    probe = port("p2-bbbb", "fa:16:3e:00:00:02", "10.0.0.6", [], device_owner="network:probe")
    text = script([open_port, probe], [])
    assert tap_name("p1-aaaa") not in text and tap_name("p2-bbbb") not in text
    assert "jump in_" not in text


def test_one_zone_per_network_stable_and_distinct() -> None:
    ids = [f"net-{i}" for i in range(300)]
    zones = firewall.zones(ids)
    assert len(set(zones.values())) == 300
    assert all(1 <= z <= 65535 for z in zones.values())
    assert firewall.zones(ids[:10]) == {i: zones[i] for i in ids[:10]}
    text = script([port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", [])], [])
    assert f'"{bridge_name("net-1")}" : {firewall.zones(["net-1"])["net-1"]}' in text


def test_same_input_same_digest() -> None:
    ports = [port("p1-aaaa", "fa:16:3e:00:00:01", "10.0.0.5", ["g1"])]
    a = firewall.render(firewall.build(plugged=[("p1-aaaa", "n")], ports=ports,
                                       groups=[group("g1", WEB)]))
    b = firewall.render(firewall.build(plugged=[("p1-aaaa", "n")], ports=ports,
                                       groups=[group("g1", WEB)]))
    c = firewall.render(firewall.build(plugged=[("p1-aaaa", "n")], ports=ports,
                                       groups=[group("g1", WEB, EGRESS)]))
    assert a == b and a[0] != c[0]
    assert a[1].count(f'comment "{a[0]}"') == 2


# The agent ---------------------------------------------------------------------------
def agent_world(tmp: Path) -> tuple[Agent, Region, FakePacketFilter]:
    dp = host_dataplane()
    region = Region()
    packet_filter = FakePacketFilter()
    agent = Agent(agent_config(tmp), region, dp, runtime=FakeRuntime(dp),
                  packet_filter=packet_filter)
    return agent, region, packet_filter


def test_agent_loads_the_firewall_once_and_again_on_a_rule_change(tmp_path: Path) -> None:
    agent, r, pf = agent_world(tmp_path)
    net = r.network()
    sub = r.subnet(net)
    vm = r.server()
    web = r.group(EGRESS)
    p = r.port(net, sub, "10.0.10.5", device_id=vm["id"])
    p["security_groups"] = [web["id"]]
    result = agent.reconcile_once()
    assert not result.failed and pf.loads == 1
    assert "security-groups?id" in r.reads
    assert chain(pf.scripts[HOST_NS], "in_" + str(p["id"]).replace("-", "")[:12]) == ["drop"]
    agent.reconcile_once()
    assert pf.loads == 1  # nothing changed: nothing loaded
    web["security_group_rules"].append({"id": "r2", **WEB, "remote_ip_prefix": None,
                                        "remote_group_id": None})
    agent.reconcile_once()
    assert pf.loads == 2
    assert "meta nfproto ipv4 meta l4proto tcp th dport 80 accept" in pf.scripts[HOST_NS]


def test_firewall_failure_is_reported_and_ports_still_plugged(tmp_path: Path) -> None:
    agent, r, pf = agent_world(tmp_path)
    net = r.network()
    sub = r.subnet(net)
    vm = r.server()
    p = r.port(net, sub, "10.0.10.5", device_id=vm["id"])
    pf.fail = "Error: syntax error"
    result = agent.reconcile_once()
    assert result.failed == {"firewall": "Error: syntax error"}
    assert p["id"] in result.plugged
    assert "Error: syntax error" in agent.health.as_dict(0.0)["last_error"]  # type: ignore


def test_agent_without_packet_filter_reads_no_groups(tmp_path: Path) -> None:
    dp = host_dataplane()
    r = Region()
    agent = Agent(agent_config(tmp_path), r, dp, runtime=FakeRuntime(dp))
    net = r.network()
    sub = r.subnet(net)
    vm = r.server()
    r.port(net, sub, "10.0.10.5", device_id=vm["id"])
    agent.reconcile_once()
    assert "security-groups?id" not in r.reads
