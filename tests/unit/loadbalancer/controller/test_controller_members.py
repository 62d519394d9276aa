"""Members: a member on a network the amphora is not on gets a port plugged through
compute, the last member leaving unplugs and deletes it; both survive a crash."""

from __future__ import annotations

import pytest
from controller_testing import LBS, Crash, Rig
from sqlalchemy import select

from tricircle_lb.jobs.models import JobStatus
from tricircle_lb.loadbalancer.models import Amphora, Job, LoadBalancer

Body = dict[str, object]


def member_port(rig: Rig, amp: Amphora) -> str:
    return f"octavia-amp-{amp.id}-net-{rig.subnet2['network_id']}"


def setup_pool(rig: Rig) -> tuple[Body, Body, Amphora]:
    lb = rig.active_lb()
    pool = rig.pool(str(lb["id"]))
    [amp] = rig.amphorae(str(lb["id"]))
    return lb, pool, amp


def test_member_on_another_network_plugs_a_port(rig: Rig) -> None:
    lb, pool, amp = setup_pool(rig)
    rig.member(str(pool["id"]), rig.subnet1, "10.0.1.10")  # the VIP network: no port
    rig.run()
    assert rig.compute.ports[str(amp.compute_id)] == [amp.mgmt_port_id, amp.vrrp_port_id]
    far = rig.member(str(pool["id"]), rig.subnet2, "10.0.20.10")
    assert rig.show(str(lb["id"]))["provisioning_status"] == "PENDING_UPDATE"
    assert rig.run() == 1
    [port] = rig.central_ports(name=member_port(rig, amp))
    assert port["fixed_ips"][0]["subnet_id"] == rig.subnet2["id"]
    [row] = rig.amphorae(str(lb["id"]))
    assert row.plugged_networks == {rig.subnet2["network_id"]: port["id"]}
    server = str(amp.compute_id)
    assert ("attach", server, port["id"]) in rig.calls
    assert rig.agent.networks[str(amp.lb_network_ip)] == [port["mac_address"]]
    config = rig.agent.configs[str(amp.lb_network_ip)]
    assert [m.address for m in config.pools[0].members] == ["10.0.1.10", "10.0.20.10"]
    # The port is plugged before HAProxy is told about the member behind it.
    attach = rig.calls.index(("attach", server, port["id"]))
    assert ("put_config", amp.lb_network_ip) in rig.calls[attach:]
    shown = rig.api("GET", f"/v2/lbaas/pools/{pool['id']}/members/{far['id']}", 200)
    assert shown["member"]["provisioning_status"] == "ACTIVE"
    assert rig.show(str(lb["id"]))["provisioning_status"] == "ACTIVE"


def test_last_member_of_a_network_leaving_unplugs_it(rig: Rig) -> None:
    lb, pool, amp = setup_pool(rig)
    first = rig.member(str(pool["id"]), rig.subnet2, "10.0.20.10")
    rig.run()
    second = rig.member(str(pool["id"]), rig.subnet2, "10.0.20.11")
    rig.run()
    [port] = rig.central_ports(name=member_port(rig, amp))
    assert rig.compute.ports[str(amp.compute_id)].count(port["id"]) == 1
    rig.api("DELETE", f"/v2/lbaas/pools/{pool['id']}/members/{first['id']}", 204)
    rig.run()
    assert rig.central_ports(name=member_port(rig, amp)) == [port]
    rig.api("DELETE", f"/v2/lbaas/pools/{pool['id']}/members/{second['id']}", 204)
    assert rig.run() == 1
    assert ("detach", str(amp.compute_id), port["id"]) in rig.calls
    assert port["id"] not in rig.compute.ports[str(amp.compute_id)]
    assert rig.central_ports(name=member_port(rig, amp)) == []
    [row] = rig.amphorae(str(lb["id"]))
    assert row.plugged_networks == {}
    assert rig.agent.configs[str(amp.lb_network_ip)].pools[0].members == ()
    assert rig.api("GET", f"/v2/lbaas/pools/{pool['id']}/members", 200)["members"] == []
    assert set(rig.statuses(str(lb["id"]))) == {"ACTIVE"}


@pytest.mark.parametrize(("system", "method"), [
    ("network", "create_port"), ("compute", "attach_port"), ("agent", "plug_network"),
    ("agent", "put_config")])
def test_member_create_resumes_after_a_crash(rig: Rig, system: str, method: str) -> None:
    lb, pool, amp = setup_pool(rig)
    rig.member(str(pool["id"]), rig.subnet2, "10.0.20.10")
    with pytest.raises(Crash):
        rig.run(rig.crashing(system, method))
    rig.restart()
    assert rig.run() == 1
    assert set(rig.statuses(str(lb["id"]))) == {"ACTIVE"}
    [port] = rig.central_ports(name=member_port(rig, amp))
    assert rig.compute.ports[str(amp.compute_id)].count(port["id"]) == 1
    assert set(rig.port_names().values()) == {1}
    assert len(rig.compute.servers) == 1 and len(rig.amphorae()) == 1


@pytest.mark.parametrize(("system", "method"), [
    ("compute", "detach_port"), ("network", "delete_port")])
def test_member_delete_resumes_after_a_crash(rig: Rig, system: str, method: str) -> None:
    lb, pool, amp = setup_pool(rig)
    member = rig.member(str(pool["id"]), rig.subnet2, "10.0.20.10")
    rig.run()
    rig.api("DELETE", f"/v2/lbaas/pools/{pool['id']}/members/{member['id']}", 204)
    with pytest.raises(Crash):
        rig.run(rig.crashing(system, method))
    rig.restart()
    assert rig.run() == 1
    assert set(rig.statuses(str(lb["id"]))) == {"ACTIVE"}
    assert rig.central_ports(name=member_port(rig, amp)) == []
    assert rig.compute.ports[str(amp.compute_id)] == [amp.mgmt_port_id, amp.vrrp_port_id]
    assert rig.amphorae(str(lb["id"]))[0].plugged_networks == {}


def test_a_port_made_just_before_a_crash_goes_with_its_amphora(rig: Rig) -> None:
    lb, pool, amp = setup_pool(rig)
    rig.member(str(pool["id"]), rig.subnet2, "10.0.20.10")
    with pytest.raises(Crash):  # the port exists; its id was never recorded
        rig.run(rig.crashing("network", "create_port"))
    assert rig.amphorae(str(lb["id"]))[0].plugged_networks == {rig.subnet2["network_id"]: ""}
    # The flow is never resumed (as after its last attempt): the load balancer is deleted.
    with rig.state.db.write() as session:
        for job in session.scalars(select(Job)):
            job.status = JobStatus.FAIL.value
        row = session.get(LoadBalancer, str(lb["id"]))
        assert row is not None
        row.provisioning_status = "ERROR"
    rig.api("DELETE", f"{LBS}/{lb['id']}?cascade=true", 204)
    rig.restart()
    assert rig.run() == 1
    assert not [name for name in rig.port_names() if amp.id in name]
