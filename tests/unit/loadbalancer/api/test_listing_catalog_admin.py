"""Octavia listing (filters, fields, sorting, pages), the fault format of every
error, the catalogs, quotas and the admin amphora API, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models

LBS = "/v2/lbaas/loadbalancers"
Body = dict[str, Any]


@pytest.fixture
def lbs(lb_cloud: LbCloud) -> list[Body]:
    """Four load balancers of demo-project, created in order a, b, c, d."""
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    made = []
    for name, tags in (("a", ["red"]), ("b", ["red", "blue"]), ("c", ["blue"]), ("d", [])):
        made.append(ok(lb_cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": {
            "vip_subnet_id": sub["id"], "name": name, "tags": tags,
            "admin_state_up": name != "d"}}), 201)["loadbalancer"])
    return made


def names(cloud: LbCloud, **params: Any) -> list[str]:
    """Names in the order listed; by name unless the test sorts itself (rows made
    within one second tie on created_at and then go by random id)."""
    params.setdefault("sort", "name")
    body = ok(cloud.lb(token="demo-token").get(LBS, params=params))
    return [lb["name"] for lb in body["loadbalancers"]]


def test_filters_and_fields(lb_cloud: LbCloud, lbs: list[Body]) -> None:
    assert names(lb_cloud) == ["a", "b", "c", "d"]
    assert names(lb_cloud, name="b") == ["b"]
    v20 = ok(lb_cloud.lb().get("/v2.0/lbaas/loadbalancers", params={"name": "c"}))
    assert [lb["id"] for lb in v20["loadbalancers"]] == [lbs[2]["id"]]
    assert names(lb_cloud, admin_state_up="false") == ["d"]
    assert names(lb_cloud, admin_state_up="True") == ["a", "b", "c"]
    assert names(lb_cloud, vip_address=lbs[2]["vip_address"]) == ["c"]
    assert names(lb_cloud, tags="red") == ["a", "b"]
    assert names(lb_cloud, tags="red,blue") == ["b"]
    assert names(lb_cloud, **{"tags-any": "red,blue"}) == ["a", "b", "c"]
    assert names(lb_cloud, **{"not-tags": "red,blue"}) == ["a", "c", "d"]
    assert names(lb_cloud, **{"not-tags-any": "red"}) == ["c", "d"]
    body = ok(lb_cloud.lb().get(LBS, params=[("fields", "id"), ("fields", "name")]))
    assert all(set(lb) == {"id", "name"} for lb in body["loadbalancers"])
    shown = ok(lb_cloud.lb().get(f"{LBS}/{lbs[0]['id']}", params={"fields": "name,tags"}))
    assert shown == {"loadbalancer": {"name": "a", "tags": ["red"]}}


def test_children_filtered_by_their_parent(lb_cloud: LbCloud, lbs: list[Body]) -> None:
    """Octavia filters listeners and pools by ``loadbalancer_id``, monitors by ``pool_id``
    (its views show them as lists of ids)."""
    demo = lb_cloud.lb(token="demo-token")
    made: dict[str, str] = {}
    for lb in lbs[:2]:
        lb_cloud.settle(lb["id"])
        made[lb["id"]] = ok(demo.post("/v2/lbaas/listeners", json={"listener": {
            "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}}),
            201)["listener"]["id"]
        lb_cloud.settle(lb["id"])
        pool = ok(demo.post("/v2/lbaas/pools", json={"pool": {
            "loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
            201)["pool"]
        made[pool["id"]] = lb["id"]
        lb_cloud.settle(lb["id"])
    for lb in lbs[:2]:
        listed = ok(demo.get("/v2/lbaas/listeners", params={"loadbalancer_id": lb["id"]}))
        assert [li["id"] for li in listed["listeners"]] == [made[lb["id"]]]
        pools = ok(demo.get("/v2/lbaas/pools", params={"loadbalancer_id": lb["id"]}))["pools"]
        assert [made[p["id"]] for p in pools] == [lb["id"]]
    assert ok(demo.get("/v2/lbaas/listeners", params={"loadbalancer_id": "x"}))[
        "listeners"] == []


def test_sorting_and_pages(lb_cloud: LbCloud, lbs: list[Body]) -> None:
    assert names(lb_cloud, sort="name:desc") == ["d", "c", "b", "a"]
    assert names(lb_cloud, sort="", sort_key="name", sort_dir="desc") == ["d", "c", "b", "a"]
    assert names(lb_cloud, sort="admin_state_up:asc,name:desc") == ["d", "c", "b", "a"]
    bad_key = fault(lb_cloud.lb().get(LBS, params={"sort": "nope:asc"}), 400)
    assert bad_key == "Supplied sort key 'nope' is not valid."
    bad_dir = fault(lb_cloud.lb().get(LBS, params={"sort": "name:up"}), 400)
    assert bad_dir == "Supplied sort direction 'up' is not valid."
    fault(lb_cloud.lb().get(LBS, params={"limit": "0"}), 400)

    demo = lb_cloud.lb(token="demo-token")
    first = ok(demo.get(LBS, params={"limit": 2, "sort": "name:asc"}))
    assert [lb["name"] for lb in first["loadbalancers"]] == ["a", "b"]
    [next_link] = first["loadbalancers_links"]
    assert next_link["rel"] == "next" and f"marker={lbs[1]['id']}" in next_link["href"]
    second = ok(demo.get(next_link["href"]))
    assert [lb["name"] for lb in second["loadbalancers"]] == ["c", "d"]
    rels = {link["rel"]: link["href"] for link in second["loadbalancers_links"]}
    assert set(rels) == {"previous"}
    back = ok(demo.get(rels["previous"]))
    assert [lb["name"] for lb in back["loadbalancers"]] == ["a", "b"]
    assert ok(demo.get(LBS))["loadbalancers_links"] == []
    fault(demo.get(LBS, params={"marker": "nope"}), 400)


def test_every_error_is_an_octavia_fault(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    assert fault(admin.get("/v2/lbaas/nothing"), 404) == "The resource could not be found."
    fault(admin.patch(LBS), 405)
    text = fault(admin.post(LBS, content=b"{not json", headers={
        "Content-Type": "application/json"}), 400)
    assert "JSON" in text
    assert "Unknown attribute for argument body: lb" in fault(admin.post(LBS, json={"lb": {}}),
                                                               400)
    assert fault(admin.post(LBS, json={}), 400) == 'Missing argument: "loadbalancer"'
    fault(lb_cloud.lb(token="nobody").get(LBS), 401)
    assert admin.get("/healthcheck").text == "OK"
    assert b"tricircle_api_requests" in admin.get("/metrics").content


def test_providers_flavors_and_zones(lb_cloud: LbCloud) -> None:
    demo = lb_cloud.lb(token="demo-token")
    providers = ok(demo.get("/v2/lbaas/providers"))["providers"]
    assert [p["name"] for p in providers] == ["amphora", "octavia"]
    assert ok(demo.get("/v2/lbaas/flavors"))["flavors"] == []
    assert fault(demo.get("/v2/lbaas/flavors/f1"), 404) == "Flavor f1 not found."
    fault(demo.get("/v2/lbaas/flavorprofiles"), 403)
    assert ok(lb_cloud.lb().get("/v2/lbaas/flavorprofiles"))["flavorprofiles"] == []
    caps = ok(lb_cloud.lb().get("/v2/lbaas/providers/amphora/flavor_capabilities"))
    assert "loadbalancer_topology" in [c["name"] for c in caps["flavor_capabilities"]]
    fault(lb_cloud.lb().get("/v2/lbaas/providers/f5/flavor_capabilities"), 400)
    zones = ok(demo.get("/v2/lbaas/availabilityzones"))["availability_zones"]
    assert [(z["name"], z["enabled"]) for z in zones] == [("az1", True)]
    assert ok(demo.get("/v2/lbaas/availabilityzones/az1"))["availability_zone"]["name"] == "az1"
    fault(demo.get("/v2/lbaas/availabilityzones/az2"), 404)
    assert ok(lb_cloud.lb("RegionTwo").get("/v2/lbaas/availabilityzones"))[
        "availability_zones"][0]["name"] == "az2"


def test_quota_api(lb_cloud: LbCloud) -> None:
    admin, demo = lb_cloud.lb(), lb_cloud.lb(token="demo-token")
    default = ok(demo.get("/v2/lbaas/quotas/demo-project/default"))["quota"]
    assert default["loadbalancer"] == -1 and default["load_balancer"] == -1
    fault(demo.put("/v2/lbaas/quotas/demo-project", json={"quota": {"pool": 5}}), 403)
    fault(demo.get("/v2/lbaas/quotas/alt-project"), 403)
    updated = ok(admin.put("/v2/quotas/demo-project", json={"quota": {
        "pool": 5, "health_monitor": 2}}), 202)["quota"]
    assert (updated["pool"], updated["health_monitor"], updated["member"]) == (5, 2, -1)
    quota = ok(demo.get("/v2/lbaas/quotas/demo-project"))["quota"]
    assert (quota["pool"], quota["healthmonitor"], quota["member"]) == (5, 2, -1)
    listed = ok(admin.get("/v2/lbaas/quotas"))["quotas"]
    assert [(q["project_id"], q["pool"]) for q in listed] == [("demo-project", 5)]
    assert ok(lb_cloud.lb(token="alt-token").get("/v2/lbaas/quotas"))["quotas"] == []
    fault(admin.put("/v2/lbaas/quotas/demo-project", json={"quota": {"pool": -2}}), 400)
    fault(admin.put("/v2/lbaas/quotas/demo-project", json={"quota": {"pools": 1}}), 400)
    assert admin.delete("/v2/lbaas/quotas/demo-project").status_code == 202
    assert ok(demo.get("/v2/lbaas/quotas/demo-project"))["quota"]["pool"] == -1


def test_amphora_admin_api(lb_cloud: LbCloud, lbs: list[Body]) -> None:
    lb_cloud.settle(lbs[0]["id"])
    with lb_cloud.lb_db().write() as session:
        amp = models.Amphora(loadbalancer_id=lbs[0]["id"], status="ALLOCATED",
                             role="STANDALONE", lb_network_ip="192.168.0.5",
                             compute_id="server-1")
        session.add(amp)
        session.flush()
        amp_id = amp.id
    fault(lb_cloud.lb(token="demo-token").get("/v2/octavia/amphorae"), 403)
    admin = lb_cloud.lb()
    [listed] = ok(admin.get("/v2/octavia/amphorae"))["amphorae"]
    assert (listed["id"], listed["loadbalancer_id"], listed["status"], listed["role"],
            listed["lb_network_ip"]) == (amp_id, lbs[0]["id"], "ALLOCATED", "STANDALONE",
                                         "192.168.0.5")
    assert ok(admin.get(f"/v2/octavia/amphorae/{amp_id}"))["amphora"]["id"] == amp_id
    assert fault(admin.get("/v2/octavia/amphorae/x"), 404) == "Amphora x not found."
    assert ok(admin.get(f"/v2/octavia/amphorae/{amp_id}/stats"))["amphora_stats"] == []
    assert admin.put(f"/v2/octavia/amphorae/{amp_id}/config").status_code == 202
    assert lb_cloud.jobs()[-1] == ("loadbalancer_apply", lbs[0]["id"])
    assert admin.put(f"/v2/octavia/amphorae/{amp_id}/failover").status_code == 202
    assert lb_cloud.jobs()[-1] == ("amphora_failover", amp_id)
    lb = ok(admin.get(f"{LBS}/{lbs[0]['id']}"))["loadbalancer"]
    assert lb["provisioning_status"] == "PENDING_UPDATE"
    fault(admin.put(f"/v2/octavia/amphorae/{amp_id}/failover"), 409)
