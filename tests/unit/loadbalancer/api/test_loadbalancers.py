"""Load balancers through the real Octavia API of RegionOne, VIPs at real central networking."""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models

LBS = "/v2/lbaas/loadbalancers"
Body = dict[str, Any]


@pytest.fixture
def subnet(lb_cloud: LbCloud) -> Body:
    net = lb_cloud.network("net1", token="demo-token")
    return lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")


def create(cloud: LbCloud, token: str = "demo-token", **attrs: Any) -> Body:
    result: Body = ok(cloud.lb(token=token).post(LBS, json={"loadbalancer": attrs}),
                      201)["loadbalancer"]
    return result


def central_ports(cloud: LbCloud, **params: str) -> list[Body]:
    result: list[Body] = ok(cloud.client("CentralRegion").get("/v2.0/ports",
                                                              params=params))["ports"]
    return result


def test_version_discovery_needs_no_token(lb_cloud: LbCloud) -> None:
    anon = lb_cloud.lb(token="")
    anon.headers.pop("X-Auth-Token")
    versions = ok(anon.get("/"))["versions"]
    assert versions[0]["id"] == "v2.0"
    assert versions[0]["links"] == [{"href": "http://lb-r1.test/v2/", "rel": "self"}]
    assert [v["status"] for v in versions].count("CURRENT") == 1
    assert versions[-1]["status"] == "CURRENT"
    assert ok(anon.get("/v2"))["version"]["status"] == "CURRENT"
    assert ok(anon.get("/v2.0"))["version"]["id"] == versions[-1]["id"]
    assert anon.get("/healthcheck").status_code == 200
    fault(anon.get(LBS), 401)


def test_create_allocates_the_vip_at_central_and_hands_off(lb_cloud: LbCloud,
                                                            subnet: Body) -> None:
    lb = create(lb_cloud, vip_subnet_id=subnet["id"], name="lb1", description="d",
                tags=["a", "b"])
    assert lb["provisioning_status"] == "PENDING_CREATE"
    assert lb["operating_status"] == "OFFLINE"
    assert lb["project_id"] == "demo-project" and "tenant_id" not in lb
    assert lb["provider"] == "amphora" and lb["admin_state_up"] is True
    assert lb["vip_subnet_id"] == subnet["id"]
    assert lb["vip_network_id"] == subnet["network_id"]
    assert lb["tags"] == ["a", "b"] and lb["listeners"] == [] and lb["pools"] == []
    assert lb["created_at"] and lb["updated_at"]
    [port] = central_ports(lb_cloud, name=f"octavia-lb-{lb['id']}")
    assert port["id"] == lb["vip_port_id"]
    assert port["fixed_ips"][0]["ip_address"] == lb["vip_address"]
    assert port["device_owner"] == "Octavia" and port["project_id"] == "demo-project"
    assert lb_cloud.jobs() == [("loadbalancer_create", lb["id"])]
    shown = ok(lb_cloud.lb(token="demo-token").get(f"{LBS}/{lb['id']}"))["loadbalancer"]
    assert shown == lb


def test_create_by_network_with_address_and_by_port(lb_cloud: LbCloud, subnet: Body) -> None:
    lb = create(lb_cloud, vip_network_id=subnet["network_id"], vip_address="10.0.1.50",
                provider="octavia")
    assert lb["vip_address"] == "10.0.1.50" and lb["vip_subnet_id"] == subnet["id"]
    assert lb["provider"] == "amphora"
    port = ok(lb_cloud.client("CentralRegion", "demo-token").post("/v2.0/ports", json={
        "port": {"network_id": subnet["network_id"], "name": "mine"}}), 201)["port"]
    by_port = create(lb_cloud, vip_port_id=port["id"])
    assert by_port["vip_port_id"] == port["id"]
    assert by_port["vip_address"] == port["fixed_ips"][0]["ip_address"]
    with lb_cloud.lb_db().read() as session:
        assert session.get(models.LoadBalancer, by_port["id"]).vip_port_owned is False
        assert session.get(models.LoadBalancer, lb["id"]).vip_port_owned is True


@pytest.mark.parametrize(("attrs", "text"), [
    ({"bogus": 1}, "Unknown attribute for argument loadbalancer: bogus"),
    ({}, "VIP must contain one of"),
    ({"name": "a\nb"}, "control characters"),
    ({"description": "x" * 256}, "description"),
    ({"name": "bind :80"}, None),
    ({"provider": "f5"}, "Provider 'f5' is not enabled."),
    ({"flavor_id": "5e0b9e5b-1a3c-4f51-9c3e-3c4e4d4b9a11"}, "Invalid flavor_id."),
    ({"availability_zone": "nowhere"}, "Validation failure: Invalid availability zone."),
    ({"vip_address": "10.0.9.9"}, "is not on subnet"),
    ({"vip_address": "not-an-ip"}, "vip_address"),
    ({"admin_state_up": "maybe"}, "admin_state_up"),
])
def test_bad_input_creates_nothing(lb_cloud: LbCloud, subnet: Body, attrs: Body,
                                   text: str | None) -> None:
    body = {"vip_subnet_id": subnet["id"], **attrs} if attrs else {}
    resp = lb_cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": body})
    if text is None:  # HAProxy syntax in a name is harmless: names are never rendered raw
        assert resp.status_code == 201
        return
    assert text in fault(resp, 400)
    assert ok(lb_cloud.lb().get(LBS))["loadbalancers"] == []
    assert not [p for p in central_ports(lb_cloud) if p["name"].startswith("octavia-lb-")]
    assert lb_cloud.jobs() == []


def test_unknown_subnet_and_network(lb_cloud: LbCloud) -> None:
    missing = "7b5c0c2a-8f0e-4a53-9d43-111111111111"
    text = fault(lb_cloud.lb().post(LBS, json={"loadbalancer": {"vip_subnet_id": missing}}),
                 400)
    assert text == f"Subnet {missing} not found."
    text = fault(lb_cloud.lb().post(LBS, json={"loadbalancer": {"vip_network_id": missing}}),
                 400)
    assert text == f"Network {missing} not found."


def test_local_network_of_another_region_is_refused(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("r2-local", **{"provider:network_type": "local",
                                          "availability_zone_hints": ["RegionTwo"]})
    sub = lb_cloud.subnet(net["id"], "10.0.30.0/24")
    text = fault(lb_cloud.lb().post(LBS, json={"loadbalancer": {"vip_subnet_id": sub["id"]}}),
                 400)
    assert "network not located in current region" in text
    assert central_ports(lb_cloud, network_id=net["id"]) == []
    # RegionTwo's own service takes it.
    lb = ok(lb_cloud.lb("RegionTwo").post(LBS, json={"loadbalancer": {
        "vip_subnet_id": sub["id"]}}), 201)["loadbalancer"]
    assert lb["vip_network_id"] == net["id"]


def test_networking_down_is_a_503(lb_cloud: LbCloud, subnet: Body) -> None:
    lb_cloud.router.down.add("central.test")
    lb_cloud.router.down.add("r1.test")
    resp = lb_cloud.lb().post(LBS, json={"loadbalancer": {"vip_subnet_id": subnet["id"]}})
    fault(resp, 503)
    lb_cloud.router.down.clear()
    assert ok(lb_cloud.lb().get(LBS))["loadbalancers"] == []


def test_failed_db_write_releases_the_vip(lb_cloud: LbCloud, subnet: Body,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("queue unavailable")
    monkeypatch.setattr("tricircle_lb.loadbalancer.controller.handoff.create_loadbalancer",
                        broken)
    resp = lb_cloud.lb().post(LBS, json={"loadbalancer": {"vip_subnet_id": subnet["id"]}})
    fault(resp, 500)
    assert not [p for p in central_ports(lb_cloud) if p["name"].startswith("octavia-lb-")]
    assert ok(lb_cloud.lb().get(LBS))["loadbalancers"] == []


def test_rbac_and_project_scoping(lb_cloud: LbCloud, subnet: Body) -> None:
    lb = create(lb_cloud, vip_subnet_id=subnet["id"])
    reader = lb_cloud.lb(token="reader-token")
    assert ok(reader.get(f"{LBS}/{lb['id']}"))["loadbalancer"]["id"] == lb["id"]
    text = fault(reader.post(LBS, json={"loadbalancer": {"vip_subnet_id": subnet["id"]}}), 403)
    assert text == "Policy does not allow this request to be performed."
    fault(reader.delete(f"{LBS}/{lb['id']}"), 403)
    alt = lb_cloud.lb(token="alt-token")
    # Octavia loads the object, then its policy refuses another project: 403.
    assert fault(alt.get(f"{LBS}/{lb['id']}"), 403) == \
        "Policy does not allow this request to be performed."
    fault(alt.delete(f"{LBS}/{lb['id']}"), 403)
    assert ok(alt.get(LBS))["loadbalancers"] == []
    fault(lb_cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": {
        "vip_subnet_id": subnet["id"], "project_id": "alt-project"}}), 403)
    for_demo = create(lb_cloud, token="admin-token", vip_subnet_id=subnet["id"],
                      project_id="demo-project")
    assert for_demo["project_id"] == "demo-project"
    assert len(ok(lb_cloud.lb().get(LBS))["loadbalancers"]) == 2
    fault(lb_cloud.lb(token="bogus").get(LBS), 401)


def test_update_is_refused_while_pending_then_hands_off(lb_cloud: LbCloud,
                                                        subnet: Body) -> None:
    lb = create(lb_cloud, vip_subnet_id=subnet["id"])
    demo = lb_cloud.lb(token="demo-token")
    text = fault(demo.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"name": "x"}}), 409)
    assert text == f"Load Balancer {lb['id']} is immutable and cannot be updated."
    lb_cloud.settle(lb["id"])
    updated = ok(demo.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {
        "name": "renamed", "admin_state_up": False, "tags": ["t"]}}))["loadbalancer"]
    assert updated["name"] == "renamed" and updated["admin_state_up"] is False
    assert updated["provisioning_status"] == "PENDING_UPDATE" and updated["tags"] == ["t"]
    assert lb_cloud.jobs()[-1] == ("loadbalancer_apply", lb["id"])
    lb_cloud.settle(lb["id"])
    fault(demo.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"vip_address": "1.2.3.4"}}),
          400)
    fault(demo.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {"admin_state_up": None}}),
          400)


def _add_children(cloud: LbCloud, lb_id: str) -> tuple[str, str]:
    with cloud.lb_db().write() as session:
        pool = models.Pool(loadbalancer_id=lb_id, project_id="demo-project", protocol="HTTP",
                           lb_algorithm="ROUND_ROBIN", name="p1")
        session.add(pool)
        session.flush()
        session.add(models.Member(pool_id=pool.id, project_id="demo-project",
                                  address="10.0.1.10", protocol_port=80, name="m1"))
        listener = models.Listener(loadbalancer_id=lb_id, project_id="demo-project",
                                   protocol="HTTP", protocol_port=80, name="l1",
                                   default_pool_id=pool.id)
        session.add(listener)
        session.flush()
        return listener.id, pool.id


def test_delete_needs_cascade_when_it_has_children(lb_cloud: LbCloud, subnet: Body) -> None:
    lb = create(lb_cloud, vip_subnet_id=subnet["id"])
    fault(lb_cloud.lb().delete(f"{LBS}/{lb['id']}"), 409)  # still PENDING_CREATE
    listener_id, pool_id = _add_children(lb_cloud, lb["id"])
    lb_cloud.settle(lb["id"])
    text = fault(lb_cloud.lb().delete(f"{LBS}/{lb['id']}"), 400)
    assert text == f"Validation failure: Cannot delete Load Balancer {lb['id']} - it has children"
    resp = lb_cloud.lb(token="demo-token").delete(f"{LBS}/{lb['id']}", params={"cascade": "true"})
    assert resp.status_code == 204 and resp.content == b""
    shown = ok(lb_cloud.lb().get(f"{LBS}/{lb['id']}"))["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_DELETE"
    with lb_cloud.lb_db().read() as session:
        assert session.get(models.Listener, listener_id).provisioning_status == "PENDING_DELETE"
        pool = session.get(models.Pool, pool_id)
        assert {m.provisioning_status for m in pool.members} == {"PENDING_DELETE"}
    assert lb_cloud.jobs()[-1] == ("loadbalancer_delete", lb["id"])
    fault(lb_cloud.lb().delete(f"{LBS}/{lb['id']}"), 409)


def test_status_tree_stats_and_failover(lb_cloud: LbCloud, subnet: Body) -> None:
    lb = create(lb_cloud, vip_subnet_id=subnet["id"], name="lb1")
    listener_id, pool_id = _add_children(lb_cloud, lb["id"])
    lb_cloud.settle(lb["id"])
    tree = ok(lb_cloud.lb(token="reader-token").get(f"{LBS}/{lb['id']}/status"))["statuses"]
    top = tree["loadbalancer"]
    assert (top["id"], top["name"], top["provisioning_status"]) == (lb["id"], "lb1", "ACTIVE")
    [listener] = top["listeners"]
    assert listener["id"] == listener_id and listener["name"] == "l1"
    [pool] = listener["pools"]
    assert pool["id"] == pool_id and "health_monitor" not in pool
    [member] = pool["members"]
    assert member["address"] == "10.0.1.10" and member["protocol_port"] == 80
    assert member["operating_status"] == "NO_MONITOR"

    zero = ok(lb_cloud.lb().get(f"{LBS}/{lb['id']}/stats"))["stats"]
    assert zero == {"bytes_in": 0, "bytes_out": 0, "active_connections": 0,
                    "total_connections": 0, "request_errors": 0}
    with lb_cloud.lb_db().write() as session:
        for amp, n in (("amp-a", 10), ("amp-b", 5)):
            session.add(models.ListenerStatistics(
                listener_id=listener_id, amphora_id=amp, bytes_in=n, bytes_out=2 * n,
                active_connections=1, total_connections=n, request_errors=0))
    stats = ok(lb_cloud.lb().get(f"{LBS}/{lb['id']}/stats"))["stats"]
    assert stats["bytes_in"] == 15 and stats["bytes_out"] == 30
    assert stats["active_connections"] == 2

    fault(lb_cloud.lb(token="demo-token").put(f"{LBS}/{lb['id']}/failover"), 403)
    resp = lb_cloud.lb().put(f"{LBS}/{lb['id']}/failover")
    assert resp.status_code == 202
    assert lb_cloud.jobs()[-1] == ("loadbalancer_failover", lb["id"])
    fault(lb_cloud.lb().put(f"{LBS}/{lb['id']}/failover"), 409)


def test_quota_is_enforced_and_frees_the_vip(lb_cloud: LbCloud, subnet: Body) -> None:
    admin = lb_cloud.lb()
    assert admin.put("/v2/lbaas/quotas/demo-project",
                     json={"quota": {"loadbalancer": 1}}).status_code == 202
    create(lb_cloud, vip_subnet_id=subnet["id"])
    text = fault(lb_cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": {
        "vip_subnet_id": subnet["id"]}}), 403)
    assert text == "Quota has been met for resources: LoadBalancer"
    assert len([p for p in central_ports(lb_cloud) if p["name"].startswith("octavia-lb-")]) == 1


def test_another_projects_subnet_network_and_port_do_not_exist_for_the_caller(
        lb_cloud: LbCloud, subnet: Body) -> None:
    """Issue 10: every id a caller passes is resolved with the caller's visibility
    (Octavia passes the user's context to its network driver). Over REST, as a client
    that resolves nothing itself would send them."""
    central = lb_cloud.client("CentralRegion", token="demo-token")
    port = ok(central.post("/v2.0/ports", json={"port": {
        "network_id": subnet["network_id"], "name": "demo-vip"}}), 201)["port"]
    alt = lb_cloud.lb(token="alt-token")
    before = {p["id"] for p in central_ports(lb_cloud)}
    for attrs, what in (({"vip_subnet_id": subnet["id"]}, f"Subnet {subnet['id']}"),
                        ({"vip_network_id": subnet["network_id"]},
                         f"Network {subnet['network_id']}"),
                        ({"vip_port_id": port["id"]}, f"Port {port['id']}")):
        text = fault(alt.post(LBS, json={"loadbalancer": attrs}), 400)
        assert text == f"{what} not found.", attrs
    assert {p["id"] for p in central_ports(lb_cloud)} == before  # nothing allocated
    assert ok(lb_cloud.lb(token="admin-token").get(LBS))["loadbalancers"] == []
    # The owner, and the admin, may use them.
    create(lb_cloud, token="demo-token", vip_subnet_id=subnet["id"])
    create(lb_cloud, token="admin-token", vip_network_id=subnet["network_id"],
           project_id="alt-project")


def test_a_vip_port_in_use_by_a_device_is_refused(lb_cloud: LbCloud, subnet: Body) -> None:
    central = lb_cloud.client("CentralRegion", token="demo-token")
    port = ok(central.post("/v2.0/ports", json={"port": {
        "network_id": subnet["network_id"], "device_id": "a-server",
        "device_owner": "compute:nova"}}), 201)["port"]
    text = fault(lb_cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": {
        "vip_port_id": port["id"]}}), 400)
    assert text == f"Validation failure: Port {port['id']} is already used by device a-server "


def test_a_shared_network_of_another_project_may_carry_a_vip(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("shared-net", token="admin-token", shared=True)
    shared = lb_cloud.subnet(net["id"], "10.0.9.0/24", token="admin-token")
    lb = create(lb_cloud, token="alt-token", vip_subnet_id=shared["id"])
    assert lb["project_id"] == "alt-project" and lb["vip_subnet_id"] == shared["id"]


def test_qos_policies_and_additional_vips_are_refused_not_ignored(lb_cloud: LbCloud,
                                                                  subnet: Body) -> None:
    """Networking here has no QoS: Octavia's 400 for any policy, on create and update.
    Extra VIPs are the provider's unsupported option (501): an amphora carries one."""
    demo = lb_cloud.lb(token="demo-token")
    text = fault(demo.post(LBS, json={"loadbalancer": {
        "vip_subnet_id": subnet["id"],
        "vip_qos_policy_id": "6f1d3a0e-0000-4000-8000-000000000000"}}), 400)
    assert text == "Validation failure: VIP QoS policy is not allowed in this deployment."
    text = fault(demo.post(LBS, json={"loadbalancer": {
        "vip_subnet_id": subnet["id"], "additional_vips": [{"subnet_id": subnet["id"]}]}}),
        501)
    assert text.startswith("Provider 'amphora' does not support a requested option: "
                           "additional_vips")
    assert [p for p in central_ports(lb_cloud) if p["name"].startswith("octavia-lb-")] == []
    # Octavia's tags: any strings of ≤255 characters, as many as given.
    lb = create(lb_cloud, vip_subnet_id=subnet["id"], tags=["bad\ttag", *map(str, range(120))])
    assert len(lb["tags"]) == 121
    assert lb["additional_vips"] == [] and lb["vip_qos_policy_id"] is None
    lb_cloud.settle(lb["id"])
    text = fault(demo.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {
        "vip_qos_policy_id": None}}), 400)
    assert text == "Validation failure: VIP QoS policy is not allowed in this deployment."
