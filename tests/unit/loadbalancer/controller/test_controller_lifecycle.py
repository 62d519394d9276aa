"""Delete and failover: delete removes every port, server and row but a VIP port
the user brought; a failover serves from the new amphora before the old one goes;
the health manager's verdict becomes one failover job."""

from __future__ import annotations

from datetime import timedelta

from controller_testing import LBS, Rig

from tricircle_lb.loadbalancer import background
from tricircle_lb.loadbalancer.controller import handoff, sweeper
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraUnreachable

HM_PORT = "octavia-health-manager-RegionOne-listen-port"


def test_delete_removes_ports_servers_and_rows(rig: Rig) -> None:
    lb = rig.active_lb()
    pool = rig.pool(lb["id"])
    rig.member(pool["id"], rig.subnet2, "10.0.20.10")
    rig.run()
    [amp] = rig.amphorae(lb["id"])
    assert len(rig.port_names()) == 5  # hm, VIP, mgmt, VRRP, member network
    rig.api("DELETE", f"{LBS}/{lb['id']}?cascade=true", 204)
    assert rig.run() == 1
    rig.api("GET", f"{LBS}/{lb['id']}", 404)
    rig.api("GET", f"/v2/lbaas/pools/{pool['id']}", 404)
    assert list(rig.port_names()) == [HM_PORT]
    assert rig.compute.servers == {}
    [row] = rig.amphorae()
    assert (row.id, row.status, row.loadbalancer_id) == (amp.id, "DELETED", None)
    assert [j.status for j in rig.jobs()][-1] == "SUCCESS"


def test_delete_keeps_the_users_vip_port(rig: Rig) -> None:
    central = rig.cloud.client("CentralRegion", "demo-token")
    mine = central.post("/v2.0/ports", json={"port": {
        "network_id": rig.subnet1["network_id"], "name": "my-vip"}}).json()["port"]
    lb = rig.create_lb(vip_port_id=mine["id"])
    rig.run()
    [amp] = rig.amphorae(lb["id"])
    [vrrp] = rig.central_ports(name=f"octavia-lb-vrrp-{amp.id}")
    assert [p["ip_address"] for p in vrrp["allowed_address_pairs"]] == \
        [mine["fixed_ips"][0]["ip_address"]]
    rig.api("DELETE", f"{LBS}/{lb['id']}", 204)
    rig.run()
    rig.api("GET", f"{LBS}/{lb['id']}", 404)
    assert sorted(rig.port_names()) == ["my-vip", HM_PORT]
    assert [p["id"] for p in rig.central_ports(name="my-vip")] == [mine["id"]]


def test_amphora_failover_builds_the_new_one_before_removing_the_old(rig: Rig) -> None:
    lb = rig.active_lb()
    pool = rig.pool(lb["id"])
    rig.member(pool["id"], rig.subnet2, "10.0.20.10")
    rig.run()
    [old] = rig.amphorae(lb["id"])
    rig.calls.clear()
    rig.api("PUT", f"/v2/octavia/amphorae/{old.id}/failover", 202, token="admin-token")
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_UPDATE"
    assert rig.run() == 1
    [new] = rig.amphorae(lb["id"])
    assert new.id != old.id and new.status == "ALLOCATED"
    events = [c[:2] for c in rig.calls]
    removed = events.index(("delete", str(old.compute_id)))
    assert events.index(("boot", str(new.compute_id))) < removed
    assert events.index(("put_config", str(new.lb_network_ip))) < removed
    assert ("plug_network", str(new.lb_network_ip)) in events[:removed]
    assert list(rig.compute.servers) == [new.compute_id]
    names = rig.port_names()
    assert not [n for n in names if old.id in n]
    assert {f"octavia-lb-mgmt-{new.id}", f"octavia-lb-vrrp-{new.id}",
            f"octavia-amp-{new.id}-net-{rig.subnet2['network_id']}"} <= set(names)
    assert set(names.values()) == {1}
    assert set(rig.statuses(lb["id"])) == {"ACTIVE"}
    [gone] = [a for a in rig.amphorae() if a.id == old.id]
    assert (gone.status, gone.loadbalancer_id) == ("DELETED", None)


def test_load_balancer_failover_replaces_every_amphora(rig: Rig) -> None:
    lb = rig.active_lb()
    [old] = rig.amphorae(lb["id"])
    rig.api("PUT", f"{LBS}/{lb['id']}/failover", 202, token="admin-token")
    assert rig.run() == 1
    [new] = rig.amphorae(lb["id"])
    assert new.id != old.id and new.status == "ALLOCATED"
    assert list(rig.compute.servers) == [new.compute_id]
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"


def test_health_manager_verdict_is_one_failover_job(rig: Rig) -> None:
    lb = rig.active_lb()
    [amp] = rig.amphorae(lb["id"])
    background.request_failover(rig.state, amp.id)
    background.request_failover(rig.state, amp.id)  # the next check, still silent
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_UPDATE"
    pending = [(j.type, j.resource_id, j.status) for j in rig.jobs()][1:]
    assert pending == [(handoff.AMPHORA_FAILOVER, amp.id, "NEW")]
    assert rig.run() == 1
    [new] = rig.amphorae(lb["id"])
    assert new.id != amp.id
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"


def test_an_amphora_that_died_meanwhile_is_replaced_by_the_next_flow(rig: Rig) -> None:
    lb = rig.active_lb()
    [old] = rig.amphorae(lb["id"])
    pool = rig.pool(lb["id"])
    rig.run()
    # Its agent no longer answers (its failover could not start while the load
    # balancer was pending): the next change replaces it instead of retrying forever.
    rig.agent.fail_on("info", AmphoraUnreachable("connection refused"), times=3)
    rig.member(pool["id"], rig.subnet1, "10.0.1.10")
    rig.run()
    [new] = rig.amphorae(lb["id"])
    assert new.id != old.id and new.status == "ALLOCATED"
    assert list(rig.compute.servers) == [new.compute_id]
    assert set(rig.statuses(lb["id"])) == {"ACTIVE"}


def test_an_amphora_its_host_started_again_gets_its_vip_and_configuration_back(
        rig: Rig) -> None:
    """Issue 9: the host lost the amphora's namespace and started it again, empty. The
    health manager's word restores it in place: same amphora, VIP and HAProxy
    configuration pushed again, no new server."""
    lb = rig.active_lb()
    rig.pool(lb["id"])
    [amp] = rig.amphorae(lb["id"])
    ip = str(amp.lb_network_ip)
    rig.agent.configs.pop(ip)  # what the restarted amphora has: nothing
    rig.agent.vips.pop(ip)
    servers = list(rig.compute.servers)
    assert background.request_restore(rig.state, amp.id)
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_UPDATE"
    assert not background.request_restore(rig.state, amp.id)  # busy: asked again later
    assert rig.run() == 1
    [same] = rig.amphorae(lb["id"])
    assert same.id == amp.id and list(rig.compute.servers) == servers
    assert ip in rig.agent.configs and rig.agent.vips[ip].startswith(lb["vip_address"])
    assert set(rig.statuses(lb["id"])) == {"ACTIVE"}


def test_a_restore_of_an_amphora_that_does_not_answer_replaces_it(rig: Rig) -> None:
    lb = rig.active_lb()
    [old] = rig.amphorae(lb["id"])
    rig.agent.fail_on("info", AmphoraUnreachable("connection refused"), times=3)
    assert background.request_restore(rig.state, old.id)
    rig.run()
    [new] = rig.amphorae(lb["id"])
    assert new.id != old.id and new.status == "ALLOCATED"
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"


def test_a_delete_whose_job_gives_up_leaves_an_error_load_balancer_to_delete_again(
        rig: Rig) -> None:
    """Issue 10: networking unreachable during a delete until the job gives up: the
    load balancer ends ERROR (as its job fails, the sweeper has nothing left), and a
    second delete removes it."""
    lb = rig.active_lb()
    rig.api("DELETE", f"{LBS}/{lb['id']}", 204)
    rig.cloud.router.down.add("central.test")
    for _ in range(rig.queue.config.max_attempts):
        rig.run()
        assert rig.show(lb["id"])["provisioning_status"] in ("PENDING_DELETE", "ERROR")
        rig.later()
    assert [j.status for j in rig.jobs()][-1] == "FAIL"
    assert rig.show(lb["id"])["provisioning_status"] == "ERROR"
    assert sweeper.sweep(rig.state.db, grace=timedelta(0)) == []
    rig.cloud.router.down.discard("central.test")
    rig.api("DELETE", f"{LBS}/{lb['id']}", 204)
    rig.run()
    rig.api("GET", f"{LBS}/{lb['id']}", 404)
    assert list(rig.port_names()) == [HM_PORT]


def test_the_sweeper_leaves_load_balancers_whose_job_is_still_coming(rig: Rig) -> None:
    lb = rig.create_lb()  # PENDING_CREATE with its job NEW
    assert sweeper.sweep(rig.state.db, grace=timedelta(0)) == []
    assert sweeper.sweep(rig.state.db) == []  # too young anyway
    rig.run()
    [amp] = rig.amphorae(lb["id"])
    background.request_failover(rig.state, amp.id)  # its job names the amphora
    assert sweeper.sweep(rig.state.db, grace=timedelta(0)) == []
    assert rig.show(lb["id"])["provisioning_status"] == "PENDING_UPDATE"
