"""ACTIVE_STANDBY: two amphorae on different hosts, keepalived on both with the
other as its unicast peer, the VIP left to keepalived; failovers keep the VIP on a
serving amphora (the fake amphorae play keepalived's election)."""

from __future__ import annotations

from typing import Any

from controller_testing import LBS, Rig

from tricircle_lb.loadbalancer.drivers.amphora import AmphoraUnreachable
from tricircle_lb.loadbalancer.models import Amphora, LoadBalancer


def _pair(rig: Rig) -> dict[str, Any]:
    lb = rig.create_lb()
    with rig.state.db.write() as session:
        row = session.get(LoadBalancer, lb["id"])
        assert row is not None
        row.topology = "ACTIVE_STANDBY"  # what a flavor with loadbalancer_topology sets
    assert rig.run() == 1
    return lb


def _roles(rig: Rig, lb_id: str) -> dict[str, Amphora]:
    return {str(a.role): a for a in rig.amphorae(lb_id) if a.status != "DELETED"}


def _holder(rig: Rig, lb: dict[str, Any]) -> str | None:
    return rig.agent.holders.get(f"{lb['vip_address']}/24")


def test_active_standby_pair(rig: Rig) -> None:
    lb = _pair(rig)
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"
    amps = {a.role: a for a in rig.amphorae(lb["id"])}
    assert sorted(amps) == ["BACKUP", "MASTER"]
    hosts = {rig.compute.servers[str(a.compute_id)].host for a in amps.values()}
    assert len(hosts) == 2  # anti-affinity
    assert rig.agent.vips == {}  # keepalived holds the VIP, not the agent
    master, backup = (rig.agent.vrrp[str(amps[r].lb_network_ip)] for r in ("MASTER", "BACKUP"))
    assert (master["priority"], backup["priority"]) == (100, 90)
    assert master["peers"] == [amps["BACKUP"].vrrp_ip]
    assert backup["peers"] == [amps["MASTER"].vrrp_ip]
    assert master["vip"] == backup["vip"] == f"{lb['vip_address']}/24"
    assert master["auth_pass"] == backup["auth_pass"]
    for amp in amps.values():
        [vrrp] = rig.central_ports(name=f"octavia-lb-vrrp-{amp.id}")
        assert [p["ip_address"] for p in vrrp["allowed_address_pairs"]] == [lb["vip_address"]]
        assert str(amp.lb_network_ip) in rig.agent.configs


def test_failover_api_hands_the_vip_over_before_the_holder_goes(rig: Rig) -> None:
    lb = _pair(rig)
    before = _roles(rig, lb["id"])
    assert _holder(rig, lb) == before["MASTER"].lb_network_ip
    # Whenever an amphora's keepalived stops, some other amphora holds the VIP.
    stop = rig.agent.stop_vrrp

    def stop_vrrp(ip: str) -> None:
        stop(ip)
        assert _holder(rig, lb) not in (None, ip), "the VIP was left unheld"
    rig.agent.stop_vrrp = stop_vrrp  # type: ignore[method-assign]
    rig.api("PUT", f"{LBS}/{lb['id']}/failover", 202, token="admin-token")
    assert rig.run() == 1
    after = _roles(rig, lb["id"])
    assert sorted(after) == ["BACKUP", "MASTER"]
    assert not {a.id for a in after.values()} & {a.id for a in before.values()}
    # The BACKUP's replacement took the VIP (preempting) and became MASTER; the
    # MASTER's replacement joined as BACKUP.
    assert _holder(rig, lb) == after["MASTER"].lb_network_ip
    boots = [c[1] for c in rig.calls if c[0] == "boot"]
    assert boots.index(str(after["MASTER"].compute_id)) < \
        boots.index(str(after["BACKUP"].compute_id))
    master, backup = (rig.agent.vrrp[str(after[r].lb_network_ip)] for r in ("MASTER", "BACKUP"))
    assert (master["priority"], backup["priority"]) == (100, 90)
    assert not master["preempt"] and not backup["preempt"]  # back to nopreempt
    assert master["peers"] == [after["BACKUP"].vrrp_ip]
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"


def test_a_dead_master_is_replaced_by_a_backup_and_its_peer_becomes_master(rig: Rig) -> None:
    lb = _pair(rig)
    old = _roles(rig, lb["id"])
    dead = str(old["MASTER"].lb_network_ip)
    # keepalived moved the VIP to the BACKUP when the MASTER died.
    rig.agent.vrrp.pop(dead)
    rig.agent.holders[f"{lb['vip_address']}/24"] = str(old["BACKUP"].lb_network_ip)
    calls = rig.agent.calls
    answering = rig.agent.info

    def info(ip: str) -> dict[str, Any]:
        if ip == dead:
            raise AmphoraUnreachable("no route to host")
        return answering(ip)
    rig.agent.info = info  # type: ignore[method-assign]
    rig.api("PUT", f"/v2/octavia/amphorae/{old['MASTER'].id}/failover", 202,
            token="admin-token")
    assert rig.run() == 1
    new = _roles(rig, lb["id"])
    assert new["MASTER"].id == old["BACKUP"].id  # still the VIP holder, now named so
    assert new["BACKUP"].id not in {a.id for a in old.values()}
    assert _holder(rig, lb) == old["BACKUP"].lb_network_ip
    assert not [c for c in calls if c[:2] == ("configure_vrrp", dead)][1:]
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"


def test_keepalived_is_configured_where_it_can_be_when_a_peer_is_gone(rig: Rig) -> None:
    lb = _pair(rig)
    amps = _roles(rig, lb["id"])
    rig.agent.vrrp.clear()
    rig.agent.holders.clear()
    rig.agent.fail_on("configure_vrrp", AmphoraUnreachable("connection refused"))
    flows = rig.flows()
    try:
        flows.ops.configure_vrrp(list(amps.values()), flows.ops.vip(_lb_row(rig, lb)),
                                 lb["id"])
    except AmphoraUnreachable:
        pass
    else:
        raise AssertionError("the unreachable peer was not reported")
    # The first amphora refused; the second was configured all the same.
    assert list(rig.agent.vrrp) == [str(list(amps.values())[1].lb_network_ip)]


def _lb_row(rig: Rig, lb: dict[str, Any]) -> LoadBalancer:
    with rig.state.db.read() as session:
        row = session.get(LoadBalancer, lb["id"])
        assert row is not None
        session.expunge(row)
        return row


def test_a_peer_dying_mid_rebuild_leaves_the_new_amphora_serving(rig: Rig) -> None:
    lb = _pair(rig)
    old = _roles(rig, lb["id"])
    rig.agent.vrrp.clear()  # both lost, the BACKUP while its MASTER's rebuild ran:
    rig.agent.holders.clear()
    rig.agent.fail_on("put_config", AmphoraUnreachable("no route to host"))  # its config
    rig.api("PUT", f"/v2/octavia/amphorae/{old['MASTER'].id}/failover", 202,
            token="admin-token")
    assert rig.run() == 1
    [job] = [j for j in rig.jobs() if j.status == "NEW"]
    assert job.attempts == 1  # retried later; meanwhile the new amphora holds the VIP
    [new] = [a for a in rig.amphorae(lb["id"]) if a.id not in {x.id for x in old.values()}]
    assert new.lb_network_ip in rig.agent.configs and new.lb_network_ip in rig.agent.vrrp
    rig.later()
    assert rig.run() == 1
    assert rig.show(lb["id"])["provisioning_status"] == "ACTIVE"
    assert sorted(_roles(rig, lb["id"])) == ["BACKUP", "MASTER"]


def test_a_region_with_one_host_cannot_run_a_pair(rig: Rig) -> None:
    rig.compute.host_names = rig.compute.host_names[:1]
    lb = _pair(rig)
    shown = rig.show(lb["id"])
    assert shown["provisioning_status"] == "ERROR"
    [job] = rig.jobs()
    assert "ACTIVE_STANDBY needs two hosts" in str(job.last_error)
    # The half-built pair is gone: no server, no amphora port (the VIP port stays until
    # the load balancer is deleted, as in Octavia).
    assert rig.compute.servers == {}
    assert not [name for name in rig.port_names()
                if name.startswith(("octavia-lb-mgmt-", "octavia-lb-vrrp-"))]
    assert rig.port_names()[f"octavia-lb-{lb['id']}"] == 1
