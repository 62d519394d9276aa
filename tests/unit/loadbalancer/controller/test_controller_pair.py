"""ACTIVE_STANDBY: two amphorae on different hosts, keepalived on both with the
other as its unicast peer, the VIP left to keepalived."""

from __future__ import annotations

from controller_testing import Rig

from tricircle_lb.loadbalancer.models import LoadBalancer


def test_active_standby_pair(rig: Rig) -> None:
    lb = rig.create_lb()
    with rig.state.db.write() as session:
        row = session.get(LoadBalancer, lb["id"])
        assert row is not None
        row.topology = "ACTIVE_STANDBY"  # what a flavor with loadbalancer_topology sets
    assert rig.run() == 1
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
