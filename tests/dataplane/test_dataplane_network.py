"""Real packets between namespaces: underlay, VXLAN with static L2 population, VLAN, flat."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataplane_testing import Lab, eventually, in_ns, pings, sh

pytestmark = pytest.mark.root

H1, H2, H3 = "RegionOne-host1", "RegionOne-host2", "RegionTwo-host1"


def converge(lab: Lab, tmp: Path, *hosts: str) -> None:
    for host in hosts:
        result = lab.agent(host, tmp).reconcile_once()
        assert not result.failed, result.failed


def test_underlay_hosts_reach_each_other_not_the_root(lab: Lab) -> None:
    ips = {h: lab.spec.host(h).tunnel_ip for h in (H1, H2, H3)}
    for src in (H1, H2, H3):
        for dst in (H1, H2, H3):
            assert pings(lab.ns(src), ips[dst], timeout=3), (src, dst)
    root_routes = sh("ip", "route", "show") + sh("ip", "-6", "route", "show")
    assert "198.18." not in root_routes
    assert "198.18." not in sh("ip", "addr", "show")
    lab.underlay.ensure()  # idempotent on the real kernel too
    assert pings(lab.ns(H1), ips[H3], timeout=3)


def test_vxlan_across_regions_with_static_entries_only(lab: Lab, tmp_path: Path) -> None:
    net, sub = lab.network("vxlan", 1001)
    vm1, _ = lab.instance(H1, net, sub, "10.0.10.11")
    vm3, _ = lab.instance(H3, net, sub, "10.0.10.13")
    converge(lab, tmp_path, H1, H3)
    ns1, ns3 = lab.instance_ns(H1, vm1), lab.instance_ns(H3, vm3)
    details = sh("ip", "-n", lab.ns(H1), "-d", "link", "show", "vxlan-1001")
    assert "vxlan id 1001" in details and "nolearning" in details
    vxlan_line = next(line for line in details.splitlines() if "vxlan id" in line)
    assert " proxy " not in f"{vxlan_line} "  # ARP is flooded to the known VTEPs (051)
    assert f"local {lab.spec.host(H1).tunnel_ip} dev ul0" in vxlan_line
    assert " group " not in vxlan_line and " remote " not in vxlan_line  # no multicast
    assert pings(ns1, "10.0.10.13")
    lab.serve_http(ns3, "10.0.10.13", "backend3", tmp_path)
    assert pings(ns3, "10.0.10.11")
    assert eventually(lambda: lab.curl(ns1, "10.0.10.13") == "backend3")
    fdb = sh("ip", "netns", "exec", lab.ns(H1), "bridge", "fdb", "show", "dev", "vxlan-1001")
    assert "dst " + lab.spec.host(H3).tunnel_ip in fdb
    # The agent's neighbour entries for remote ports are in place.
    neigh = sh("ip", "-n", lab.ns(H1), "neigh", "show", "dev", "vxlan-1001")
    assert "10.0.10.13" in neigh and "PERMANENT" in neigh


def test_same_cidr_on_two_vnis_is_isolated(lab: Lab, tmp_path: Path) -> None:
    net_a, sub_a = lab.network("vxlan", 1101)
    net_b, sub_b = lab.network("vxlan", 1102)
    client, _ = lab.instance(H1, net_a, sub_a, "10.0.10.5")
    server_a, _ = lab.instance(H2, net_a, sub_a, "10.0.10.6")
    server_b, _ = lab.instance(H2, net_b, sub_b, "10.0.10.6")
    lonely_b, _ = lab.instance(H3, net_b, sub_b, "10.0.10.7")
    converge(lab, tmp_path, H1, H2, H3)
    ns_client = lab.instance_ns(H1, client)
    lab.serve_http(lab.instance_ns(H2, server_a), "10.0.10.6", "net-a", tmp_path)
    lab.serve_http(lab.instance_ns(H2, server_b), "10.0.10.6", "net-b", tmp_path)
    assert eventually(lambda: lab.curl(ns_client, "10.0.10.6") == "net-a")
    for _ in range(3):
        assert lab.curl(ns_client, "10.0.10.6") == "net-a"
    assert not pings(ns_client, "10.0.10.7", timeout=2)
    assert pings(lab.instance_ns(H3, lonely_b), "10.0.10.6")  # net B works on its own


def test_vlan_and_flat_between_two_hosts(lab: Lab, tmp_path: Path) -> None:
    vlan, vlan_sub = lab.network("vlan", 100, "physnet1", cidr="10.0.20.0/24")
    other, other_sub = lab.network("vlan", 101, "physnet1", cidr="10.0.20.0/24")
    flat, flat_sub = lab.network("flat", None, "physnet2", cidr="10.0.30.0/24")
    a, _ = lab.instance(H1, vlan, vlan_sub, "10.0.20.5")
    lab.instance(H2, vlan, vlan_sub, "10.0.20.6")
    lab.instance(H2, other, other_sub, "10.0.20.7")
    lab.instance(H1, flat, flat_sub, "10.0.30.5")
    d, _ = lab.instance(H2, flat, flat_sub, "10.0.30.6")
    converge(lab, tmp_path, H1, H2)
    details = sh("ip", "-n", lab.ns(H1), "-d", "link", "show", "pn0.100")
    # 802.1Q where the kernel has it; else the multicast VXLAN segment on pn0 (decision 053).
    assert "vlan protocol 802.1Q id 100" in details or (
        "vxlan id 100 group 239.1.1.1" in details and " dev pn0 " in details)
    assert "master brq" in sh("ip", "-n", lab.ns(H2), "link", "show", "pn1")
    assert pings(lab.instance_ns(H1, a), "10.0.20.6")
    assert in_ns(lab.instance_ns(H1, a), "ping", "-c1", "-s", "1400", "10.0.20.6"
                 ).returncode == 0  # full-size frames cross the physical network
    assert pings(lab.instance_ns(H2, d), "10.0.30.5")
    # Same physnet, another VLAN id: a separate segment.
    assert not pings(lab.instance_ns(H1, a), "10.0.20.7", timeout=2)
    converge(lab, tmp_path, H1, H2)  # and again: nothing replaced
    assert pings(lab.instance_ns(H1, a), "10.0.20.6", timeout=2)
