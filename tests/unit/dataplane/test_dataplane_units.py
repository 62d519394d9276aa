"""Names, the fake kernel's contract and the underlay plan (no root needed)."""

from __future__ import annotations

import pytest

from tricircle_lb.dataplane import (
    DataplaneError,
    FakeDataplane,
    FdbEntry,
    InvalidName,
    LinkNotFound,
    NamespaceNotFound,
    Underlay,
    UnderlaySpec,
    host_namespace,
)
from tricircle_lb.dataplane.names import bridge_name, physnet_bridge, tap_name, vxlan_name


def test_names() -> None:
    assert host_namespace("RegionOne-host1") == "tcl-h-RegionOne-host1"
    odd = host_namespace("Region One/host;1")
    assert odd.startswith("tcl-h-Region-One-host-1-") and "/" not in odd
    assert len(host_namespace("h" * 300)) < 255
    assert host_namespace("x" * 300) != host_namespace("x" * 299)
    with pytest.raises(InvalidName):
        host_namespace("")
    assert bridge_name("0123456789abcdef") == "brq0123456789a"
    assert tap_name("abcdef0123456789") == "tapabcdef01234"
    assert vxlan_name(16777215) == "vxlan-16777215"
    assert physnet_bridge("physnet1") == "pn-physnet1"
    assert len(physnet_bridge("a-very-long-physical-network")) <= 15


def test_fake_veth_pairs_go_together() -> None:
    dp = FakeDataplane()
    dp.ensure_namespace("tcl-a")
    dp.ensure_namespace("tcl-b")
    dp.ensure_veth("tcl-a", "tap1", "tcl-b", "eth0", peer_mac="fa:16:3e:00:00:01", mtu=1450)
    dp.ensure_veth("tcl-a", "tap1", "tcl-b", "eth0", peer_mac="fa:16:3e:00:00:01", mtu=1450)
    assert [lk.name for lk in dp.links("tcl-b")] == ["lo", "eth0"]
    dp.delete_namespace("tcl-b")
    assert [lk.name for lk in dp.links("tcl-a")] == ["lo"]
    with pytest.raises(NamespaceNotFound):
        dp.links("tcl-b")
    with pytest.raises(LinkNotFound):
        dp.set_link("tcl-a", "nope", up=True)
    dp.delete_link("tcl-a", "nope")  # already gone: fine


def test_fake_fdb_is_idempotent_and_vxlan_replaced_on_change() -> None:
    dp = FakeDataplane()
    dp.ensure_namespace("tcl-h")
    dp.ensure_bridge("tcl-h", "ul0")
    dp.ensure_vxlan("tcl-h", "vxlan-5", 5, "198.18.0.1", "ul0")
    entry = FdbEntry("00:00:00:00:00:00", "198.18.0.2")
    dp.add_fdb("tcl-h", "vxlan-5", entry)
    dp.add_fdb("tcl-h", "vxlan-5", entry)
    assert dp.fdb("tcl-h", "vxlan-5") == [entry]
    dp.ensure_vxlan("tcl-h", "vxlan-5", 5, "198.18.0.9", "ul0")
    assert dp.fdb("tcl-h", "vxlan-5") == []


def test_underlay_plan_and_idempotent_ensure() -> None:
    spec = UnderlaySpec.plan(["RegionOne-host1", "RegionOne-host2", "RegionTwo-host1"],
                             physical_networks=["physnet2", "physnet1"])
    assert [h.tunnel_ip for h in spec.hosts] == ["198.18.0.1", "198.18.0.2", "198.18.0.3"]
    assert spec.interface_mappings() == {"physnet1": "pn0", "physnet2": "pn1"}
    assert spec.host("RegionTwo-host1").namespace == "tcl-h-RegionTwo-host1"
    dp = FakeDataplane()
    underlay = Underlay(spec, dp)
    underlay.ensure()
    assert dp.namespaces() == ["tcl-h-RegionOne-host1", "tcl-h-RegionOne-host2",
                               "tcl-h-RegionTwo-host1", "tcl-underlay"]
    assert dp.addresses("tcl-h-RegionOne-host2", "ul0") == ["198.18.0.2/15"]
    switch = {lk.name: lk for lk in dp.links("tcl-underlay")}
    assert sum(1 for lk in switch.values() if lk.master == "ul-br") == 3
    assert sum(1 for lk in switch.values() if lk.master == "pn-physnet1") == 3
    dp.changes.clear()
    underlay.ensure()
    assert dp.changes == []
    assert len(underlay.teardown()) == 4
    assert dp.namespaces() == []


def test_underlay_refuses_bad_specs() -> None:
    with pytest.raises(DataplaneError):
        UnderlaySpec.plan(["a"], tunnel_ips={"a": "10.0.0.1"})
    with pytest.raises(DataplaneError):
        UnderlaySpec.plan(["a", "b"], tunnel_ips={"a": "198.18.0.5", "b": "198.18.0.5"})
    spec = UnderlaySpec.plan(["a", "b"], tunnel_ips={"a": "198.18.0.1"})
    assert spec.host("b").tunnel_ip == "198.18.0.2"
