"""The VIP's security group ``lb-<id>``: listener ports (from allowed_cidrs), VRRP for a
pair, on every VRRP port and the VIP port; removed with the load balancer."""

from __future__ import annotations

from typing import Any

from controller_testing import LBS, Rig

from tricircle_lb.loadbalancer.models import LoadBalancer


def _group(rig: Rig, lb_id: str) -> Any:
    groups = rig.cloud.client("CentralRegion").get(
        "/v2.0/security-groups", params={"name": f"lb-{lb_id}"}).json()["security_groups"]
    return groups[0] if groups else None


def _ingress(group: Any) -> set[tuple[Any, ...]]:
    return {(r["protocol"], r["port_range_min"], r["remote_ip_prefix"])
            for r in group["security_group_rules"] if r["direction"] == "ingress"}


def test_listener_ports_follow_the_listeners(rig: Rig) -> None:
    lb = rig.active_lb()
    group = _group(rig, lb["id"])
    assert group is not None and _ingress(group) == set()
    assert {r["direction"] for r in group["security_group_rules"]} == {"egress"}
    [amp] = rig.amphorae(lb["id"])
    for name in (f"octavia-lb-vrrp-{amp.id}", f"octavia-lb-{lb['id']}"):
        [port] = rig.central_ports(name=name)
        assert port["security_groups"] == [group["id"]]
    [mgmt] = rig.central_ports(name=f"octavia-lb-mgmt-{amp.id}")
    assert group["id"] not in mgmt["security_groups"]

    listener = rig.api("POST", "/v2/lbaas/listeners", 201, {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})["listener"]
    rig.run()
    rig.api("POST", "/v2/lbaas/listeners", 201, {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 8443,
        "allowed_cidrs": ["192.0.2.0/24"]}})
    rig.run()
    assert _ingress(_group(rig, lb["id"])) == {("tcp", 80, None),
                                              ("tcp", 8443, "192.0.2.0/24")}
    rig.api("DELETE", f"/v2/lbaas/listeners/{listener['id']}", 204)
    rig.run()
    assert _ingress(_group(rig, lb["id"])) == {("tcp", 8443, "192.0.2.0/24")}

    rig.api("DELETE", f"{LBS}/{lb['id']}?cascade=true", 204)
    rig.run()
    assert _group(rig, lb["id"]) is None


def test_a_pair_lets_vrrp_in(rig: Rig) -> None:
    lb = rig.create_lb()
    with rig.state.db.write() as session:
        row = session.get(LoadBalancer, lb["id"])
        assert row is not None
        row.topology = "ACTIVE_STANDBY"
    rig.run()
    group = _group(rig, lb["id"])
    assert _ingress(group) == {("112", None, None), ("51", None, None)}
    for amp in rig.amphorae(lb["id"]):
        [vrrp] = rig.central_ports(name=f"octavia-lb-vrrp-{amp.id}")
        assert vrrp["security_groups"] == [group["id"]]
