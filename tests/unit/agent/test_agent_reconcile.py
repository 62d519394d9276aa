"""The agent's reconcile against a fake kernel and a fake region (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_testing import HOST_NS, VTEP, FakeRuntime, Region, agent_config, host_dataplane

from tricircle_lb.agent.service import Agent
from tricircle_lb.dataplane.fake import FakeDataplane
from tricircle_lb.dataplane.interface import ZERO_MAC, FdbEntry, Neighbour, Route

REMOTE_VTEP = "198.18.0.3"
OTHER_HOST_VTEP = "198.18.0.2"


class World:
    def __init__(self, tmp: Path) -> None:
        self.dp = host_dataplane()
        self.region = Region()
        self.runtime = FakeRuntime(self.dp)
        self.tmp = tmp
        self.agent = self.new_agent()

    def new_agent(self) -> Agent:
        return Agent(agent_config(self.tmp), self.region, self.dp, runtime=self.runtime)

    def links(self, ns: str = HOST_NS) -> dict[str, object]:
        return {lk.name: lk for lk in self.dp.links(ns)}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def stretched(world: World) -> dict[str, dict[str, object]]:
    """net1 (VXLAN 1001): two local instances, a port on another host, a shadow port."""
    r = world.region
    net = r.network("vxlan", 1001)
    sub = r.subnet(net, "10.0.10.0/24", gateway_ip="10.0.10.1")
    vm1, vm2 = r.server("backend1"), r.server("backend2")
    p1 = r.port(net, sub, "10.0.10.11", device_id=vm1["id"])
    p2 = r.port(net, sub, "10.0.10.12", device_id=vm2["id"])
    other = r.port(net, sub, "10.0.10.13", host="RegionOne-host2", vtep=OTHER_HOST_VTEP,
                   device_id="elsewhere")
    shadow = r.port(net, sub, "10.0.10.14", host="RegionTwo-host1", vtep=REMOTE_VTEP,
                    device_owner="compute:shadow", region="RegionTwo")
    return {"net": net, "sub": sub, "vm1": vm1, "vm2": vm2, "p1": p1, "p2": p2,
            "other": other, "shadow": shadow}


def test_creates_exactly_what_is_wanted(world: World) -> None:
    f = stretched(world)
    result = world.agent.reconcile_once()
    net, p1 = f["net"], f["p1"]
    links = world.links()
    bridge = "brq" + str(net["id"])[:11]
    assert links[bridge].kind == "bridge" and links[bridge].up  # type: ignore[attr-defined]
    vx = world.dp.links(HOST_NS)
    vxlan = next(lk for lk in vx if lk.name == "vxlan-1001")
    assert (vxlan.vni, vxlan.local_ip, vxlan.parent, vxlan.master, vxlan.mtu) == (
        1001, VTEP, "ul0", bridge, 1450)
    taps = sorted(n for n in links if n.startswith("tap"))
    assert taps == sorted("tap" + str(f[p]["id"])[:11] for p in ("p1", "p2"))
    ns1 = world.runtime.namespace(str(f["vm1"]["id"]))
    eth0 = next(lk for lk in world.dp.links(ns1) if lk.name == "eth0")
    assert (eth0.mac, eth0.mtu, eth0.up) == (p1["mac_address"], 1450, True)
    assert world.dp.addresses(ns1, "eth0") == ["10.0.10.11/24"]
    assert world.dp.routes(ns1) == [Route("default", "10.0.10.1")]
    assert world.dp.fdb(HOST_NS, "vxlan-1001") == sorted({
        FdbEntry(str(f["other"]["mac_address"]), OTHER_HOST_VTEP),
        FdbEntry(str(f["shadow"]["mac_address"]), REMOTE_VTEP),
        FdbEntry(ZERO_MAC, OTHER_HOST_VTEP), FdbEntry(ZERO_MAC, REMOTE_VTEP)})
    assert world.dp.neighbours(HOST_NS, "vxlan-1001") == sorted({
        Neighbour("10.0.10.13", str(f["other"]["mac_address"])),
        Neighbour("10.0.10.14", str(f["shadow"]["mac_address"]))})
    assert result.plugged == {f["p1"]["id"], f["p2"]["id"]}
    # Nothing else: no device for the other host's or the shadow port.
    assert set(links) == {"lo", "ul0", "pn0", "pn1", bridge, "vxlan-1001", *taps}
    assert sorted(world.runtime.started) == sorted([f["vm1"]["id"], f["vm2"]["id"]])


def test_second_run_changes_nothing(world: World) -> None:
    stretched(world)
    world.agent.reconcile_once()
    world.dp.changes.clear()
    world.dp.calls.clear()
    writes = len(world.region.writes)
    world.agent.reconcile_once()
    assert world.dp.changes == []
    assert world.dp.calls == []  # not even an idempotent no-op call
    assert world.region.writes[writes:] == []


def test_restarted_agent_converges_without_duplicates(world: World) -> None:
    stretched(world)
    world.agent.reconcile_once()
    before = {ns: world.dp.links(ns) for ns in world.dp.namespaces()}
    fdb = world.dp.fdb(HOST_NS, "vxlan-1001")
    world.dp.changes.clear()
    world.agent = world.new_agent()  # "kill -9" and start again: no memory
    world.agent.reconcile_once()
    assert world.dp.changes == []
    assert {ns: world.dp.links(ns) for ns in world.dp.namespaces()} == before
    assert world.dp.fdb(HOST_NS, "vxlan-1001") == fdb
    assert world.runtime.started.count(str(world.region.servers[0]["id"])) == 1  # type: ignore[index]


def test_removes_what_is_no_longer_wanted(world: World) -> None:
    f = stretched(world)
    world.agent.reconcile_once()
    r = world.region
    r.remove(f["shadow"])
    r.remove(f["p2"])
    r.remove(f["vm2"])
    world.agent.reconcile_once()
    links = world.links()
    assert "tap" + str(f["p2"]["id"])[:11] not in links
    assert world.runtime.removed == [f["vm2"]["id"]]
    assert world.runtime.namespace(str(f["vm2"]["id"])) not in world.dp.namespaces()
    assert FdbEntry(str(f["shadow"]["mac_address"]), REMOTE_VTEP) not in world.dp.fdb(
        HOST_NS, "vxlan-1001")
    assert FdbEntry(ZERO_MAC, REMOTE_VTEP) not in world.dp.fdb(HOST_NS, "vxlan-1001")
    assert [n.ip for n in world.dp.neighbours(HOST_NS, "vxlan-1001")] == ["10.0.10.13"]

    r.remove(f["p1"])
    world.agent.reconcile_once()
    links = world.links()
    assert not [n for n in links if n.startswith(("brq", "vxlan-", "tap"))]
    assert set(links) == {"lo", "ul0", "pn0", "pn1"}


def test_constant_number_of_api_reads(world: World) -> None:
    r = world.region
    net = r.network("vxlan", 1001)
    sub = r.subnet(net)
    vm = r.server()
    r.port(net, sub, "10.0.10.2", device_id=vm["id"])
    world.agent.reconcile_once()
    small = list(r.reads)
    r.reads.clear()
    for i in range(3, 60):
        net_i = r.network("vxlan", 2000 + i)
        sub_i = r.subnet(net_i, f"10.1.{i}.0/24")
        r.port(net_i, sub_i, f"10.1.{i}.5", device_id=vm["id"])
        r.port(net_i, sub_i, f"10.1.{i}.6", host="RegionTwo-host1", vtep=REMOTE_VTEP,
               device_owner="compute:shadow")
    world.agent.reconcile_once()
    assert r.reads == small
    assert len(small) == 5


def test_vlan_and_flat_networks(world: World) -> None:
    r = world.region
    vlan = r.network("vlan", 100, physical_network="physnet1")
    flat = r.network("flat", None, physical_network="physnet2")
    vm = r.server()
    r.port(vlan, r.subnet(vlan, "10.0.20.0/24"), "10.0.20.5", device_id=vm["id"])
    r.port(flat, r.subnet(flat, "10.0.30.0/24"), "10.0.30.5", device_id=vm["id"])
    world.agent.reconcile_once()
    links = world.links()
    sub_if = links["pn0.100"]
    assert (sub_if.kind, sub_if.vlan_id, sub_if.parent, sub_if.master) == (  # type: ignore[attr-defined]
        "vlan", 100, "pn0", "brq" + str(vlan["id"])[:11])
    assert links["pn1"].master == "brq" + str(flat["id"])[:11]  # type: ignore[attr-defined]
    ns = world.runtime.namespace(str(vm["id"]))
    assert sorted(lk.name for lk in world.dp.links(ns)) == ["eth0", "eth1", "lo"]
    world.dp.changes.clear()
    world.agent.reconcile_once()
    assert world.dp.changes == []


def test_probe_port_waits_for_its_namespace(world: World) -> None:
    r = world.region
    net = r.network()
    sub = r.subnet(net)
    probe = r.port(net, sub, "10.0.10.50", device_owner="network:probe",
                   device_id="probe", netns="tcl-p-probe1")
    world.agent.reconcile_once()
    assert ("port", probe["id"], {"status": "ACTIVE"}) not in r.writes
    world.dp.ensure_namespace("tcl-p-probe1")  # the probe makes its namespace
    world.agent.reconcile_once()
    iface = "ns-" + str(probe["id"])[:11]
    assert world.dp.addresses("tcl-p-probe1", iface) == ["10.0.10.50/24"]
    assert world.dp.routes("tcl-p-probe1") == []
    assert r.writes.count(("port", probe["id"], {"status": "ACTIVE"})) == 1
    world.agent.reconcile_once()
    assert r.writes.count(("port", probe["id"], {"status": "ACTIVE"})) == 1


def test_ports_are_reported_active_once_and_instances_after_their_ports(world: World) -> None:
    f = stretched(world)
    world.agent.reconcile_once()
    r = world.region
    ports = [w for w in r.writes if w[0] == "port"]
    assert sorted(w[1] for w in ports) == sorted([f["p1"]["id"], f["p2"]["id"]])
    servers = [w for w in r.writes if w[0] == "server" and "status" in w[2]]
    assert {w[2]["status"] for w in servers} == {"ACTIVE"}
    consoles = [w for w in r.writes if w[0] == "server" and "console_log" in w[2]]
    assert len(consoles) == 2
    world.agent.reconcile_once()
    assert len([w for w in r.writes if w[0] == "server"]) == len(servers) + len(consoles)


def test_instance_that_fails_to_start_is_error(world: World) -> None:
    world.runtime.fail_start = True
    r = world.region
    net = r.network()
    vm = r.server()
    r.port(net, r.subnet(net), "10.0.10.3", device_id=vm["id"])
    world.agent.reconcile_once()
    update = next(w[2] for w in r.writes if w[0] == "server")
    assert update["status"] == "ERROR" and "no such image command" in update["fault"]


def test_eth_order_follows_port_creation(world: World) -> None:
    r = world.region
    a, b = r.network(segmentation_id=11), r.network(segmentation_id=12)
    vm = r.server()
    late = r.port(a, r.subnet(a), "10.0.1.5", device_id=vm["id"],
                  created_at="2024-01-02T00:00:00Z")
    early = r.port(b, r.subnet(b, "10.0.2.0/24", gateway_ip="10.0.2.1"), "10.0.2.5",
                   device_id=vm["id"], created_at="2024-01-01T00:00:00Z")
    world.agent.reconcile_once()
    ns = world.runtime.namespace(str(vm["id"]))
    eth = {lk.name: lk.mac for lk in world.dp.links(ns)}
    assert eth["eth0"] == early["mac_address"] and eth["eth1"] == late["mac_address"]
    assert world.dp.routes(ns) == [Route("default", "10.0.2.1")]


def test_region_unreadable_leaves_data_plane(world: World) -> None:
    stretched(world)
    world.agent.reconcile_once()
    world.dp.changes.clear()
    world.region.fail = True
    with pytest.raises(Exception, match="region down"):
        world.agent.reconcile_once()
    assert world.dp.changes == []


def test_no_compute_skips_instances(world: World) -> None:
    world.region.servers = None
    r = world.region
    net = r.network()
    port = r.port(net, r.subnet(net), "10.0.10.3", device_id="whatever")
    world.agent.reconcile_once()
    assert "tap" + str(port["id"])[:11] not in world.links()
    assert world.runtime.removed == []


def test_wrong_veth_is_replaced(world: World) -> None:
    f = stretched(world)
    world.agent.reconcile_once()
    tap = "tap" + str(f["p1"]["id"])[:11]
    ns1 = world.runtime.namespace(str(f["vm1"]["id"]))
    world.dp.delete_link(HOST_NS, tap)  # someone removed it by hand
    world.dp.ensure_veth(HOST_NS, tap, HOST_NS, "junk0")  # and put a wrong pair there
    world.agent.reconcile_once()
    assert "junk0" not in world.links()
    assert "eth0" in {lk.name for lk in world.dp.links(ns1)}
    world.dp.changes.clear()
    world.agent.reconcile_once()
    assert world.dp.changes == []


def test_agent_report_body(world: World) -> None:
    world.agent.report_state()
    kind, host, body = world.region.writes[-1]
    assert (kind, host) == ("agent", "RegionOne-host1")
    assert body["agent_type"] == "Linux bridge agent"
    assert body["binary"] == "tricircle-lb-agent"
    assert body["tunnel_ip"] == VTEP and body["region"] == "RegionOne"
    assert body["configurations"]["tunneling_ip"] == VTEP
    assert body["configurations"]["interface_mappings"] == {"physnet1": "pn0",
                                                            "physnet2": "pn1"}


def test_metrics_follow_the_reconcile(world: World) -> None:
    stretched(world)
    world.agent.reconcile_once()
    reg = world.agent.metrics.registry
    assert reg.get_sample_value("tricircle_agent_ports") == 2
    assert reg.get_sample_value("tricircle_agent_networks") == 1
    assert reg.get_sample_value("tricircle_agent_fdb_entries") == 4
    assert reg.get_sample_value("tricircle_agent_reconcile_seconds_count") == 1


def test_missing_host_namespace_fails_without_changes(tmp_path: Path) -> None:
    dp = FakeDataplane()
    region = Region()
    net = region.network()
    region.port(net, region.subnet(net), "10.0.10.3", device_id=region.server()["id"])
    agent = Agent(agent_config(tmp_path), region, dp, runtime=FakeRuntime(dp))
    with pytest.raises(Exception, match="does not exist"):
        agent.reconcile_once()
    assert dp.namespaces() == []


def test_vlan_emulated_where_the_kernel_has_no_8021q(world: World) -> None:
    world.dp.vlan_supported = False
    world.dp.add_address(HOST_NS, "pn0", "169.254.100.1/24")
    r = world.region
    vlan = r.network("vlan", 100, physical_network="physnet1")
    vm = r.server()
    r.port(vlan, r.subnet(vlan, "10.0.20.0/24"), "10.0.20.5", device_id=vm["id"])
    result = world.agent.reconcile_once()
    assert not result.failed
    dev = next(lk for lk in world.dp.links(HOST_NS) if lk.name == "pn0.100")
    assert (dev.kind, dev.vni, dev.parent, dev.local_ip, dev.group, dev.master) == (
        "vxlan", 100, "pn0", "169.254.100.1", "239.1.1.1", "brq" + str(vlan["id"])[:11])
    world.dp.changes.clear()
    world.new_agent().reconcile_once()  # a restarted agent keeps the emulated device
    assert world.dp.changes == []
    r.ports.clear()
    world.agent.reconcile_once()
    assert "pn0.100" not in world.links()


def test_reports_match_the_services_schemas(world: World) -> None:
    """What the agent sends is what networking and compute accept (both forbid extras)."""
    from tricircle_lb.compute.schemas import AgentReportBody as ServerReport
    from tricircle_lb.networking.schemas import AgentReportBody, PortStatusBody

    world.runtime.fail_start = True
    r = world.region
    net = r.network()
    r.port(net, r.subnet(net), "10.0.10.3", device_id=r.server()["id"])
    world.agent.report_state()
    world.agent.reconcile_once()
    world.runtime.fail_start = False
    ok = r.server()
    r.port(net, r.subnet(net), "10.0.10.4", device_id=ok["id"])
    world.agent.reconcile_once()
    kinds = set()
    for kind, _key, body in r.writes:
        kinds.add(kind)
        if kind == "agent":
            AgentReportBody.model_validate({"agent": body})
        elif kind == "port":
            PortStatusBody.model_validate(body)
        else:
            ServerReport.model_validate({"server": body})
    assert kinds == {"agent", "port", "server"}


def test_a_port_naming_a_server_compute_did_not_attach_it_to_is_not_plugged(
        world: World) -> None:
    """Issue 10: another project writes the victim's server id into its own bound
    port's device_id; only the ports compute attached go into the victim's instance."""
    r = world.region
    net = r.network("vxlan", 1001)
    sub = r.subnet(net, "10.0.10.0/24")
    victim = r.server("victim")
    own = r.port(net, sub, "10.0.10.5", device_id=victim["id"])
    hijack = r.port(net, sub, "10.0.10.6")  # bound here, attached to nobody
    hijack["device_id"] = victim["id"]
    result = world.agent.reconcile_once()
    assert result.plugged == {own["id"]}
    inside = {lk.mac for lk in world.dp.links(world.runtime.namespace(victim["id"]))}
    assert own["mac_address"] in inside and hijack["mac_address"] not in inside
