"""Issue 10: projects are strangers, through Neutron's API at central and in a region.

Project A (demo) owns a network, subnet, port and security group (with its
rules); project B (alt) owns a network of its own. As Neutron does, every one
of A's objects is *not found* for B (404 with the resource's NeutronError
type, so ids do not leak): show, update, delete, tags, list filters, and any
field of B's requests that names it (a port's network, fixed IP subnet and
security groups, a subnet's network, a rule's group and remote group). Admin
sees everything; A's ``reader`` reads A's objects and changes nothing (403).
Quotas of another project and Tricircle's admin API are 403.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from networking_testing import Cloud, error, ok

Body = dict[str, Any]
REGIONS = ("CentralRegion", "RegionOne")


def create(client: httpx.Client, collection: str, member: str, **attrs: Any) -> Body:
    result: Body = ok(client.post(f"/v2.0/{collection}", json={member: attrs}), 201)[member]
    return result


@pytest.fixture
def world(cloud: Cloud) -> dict[str, Body]:
    demo = cloud.client("CentralRegion", "demo-token")
    alt = cloud.client("CentralRegion", "alt-token")
    net = create(demo, "networks", "network", name="a-net")
    sub = create(demo, "subnets", "subnet", network_id=net["id"], cidr="10.1.0.0/24",
                 ip_version=4, name="a-sub")
    sg = create(demo, "security-groups", "security_group", name="a-sg")
    port = create(demo, "ports", "port", network_id=net["id"], name="a-port",
                  security_groups=[sg["id"]])
    rule = sg["security_group_rules"][0]
    b_net = create(alt, "networks", "network", name="b-net")
    b_sub = create(alt, "subnets", "subnet", network_id=b_net["id"], cidr="10.2.0.0/24",
                   ip_version=4)
    b_port = create(alt, "ports", "port", network_id=b_net["id"])
    b_sg = create(alt, "security-groups", "security_group", name="b-sg")
    # A's objects reach RegionOne's mirrors as soon as a region needs them; make sure
    # the region has heard of the network and port too.
    ok(cloud.client("RegionOne", "demo-token").get(f"/v2.0/ports/{port['id']}"))
    return {"net": net, "sub": sub, "port": port, "sg": sg, "rule": rule,
            "b_net": b_net, "b_sub": b_sub, "b_port": b_port, "b_sg": b_sg}


def a_objects(world: dict[str, Body]) -> list[tuple[str, str, str, str]]:
    """(collection, body key, id, NeutronError type) of each of A's objects."""
    return [("networks", "network", world["net"]["id"], "NetworkNotFound"),
            ("subnets", "subnet", world["sub"]["id"], "SubnetNotFound"),
            ("ports", "port", world["port"]["id"], "PortNotFound"),
            ("security-groups", "security_group", world["sg"]["id"],
             "SecurityGroupNotFound")]


@pytest.mark.parametrize("region", REGIONS)
def test_another_projects_objects_are_not_found(cloud: Cloud, world: dict[str, Body],
                                                region: str) -> None:
    alt = cloud.client(region, "alt-token")
    for collection, key, object_id, kind in a_objects(world):
        url = f"/v2.0/{collection}/{object_id}"
        assert error(alt.get(url), 404)["type"] == kind, url
        assert error(alt.put(url, json={key: {"name": "x"}}), 404)["type"] == kind, url
        assert error(alt.delete(url), 404)["type"] == kind, url
        if region == "CentralRegion":
            assert error(alt.get(f"{url}/tags"), 404)["type"] == kind
            assert error(alt.put(f"{url}/tags/x"), 404)["type"] == kind
            assert error(alt.delete(f"{url}/tags"), 404)["type"] == kind
        # No list filter finds it.
        plural = collection.replace("-", "_")
        for params in ({"id": object_id}, {"project_id": "demo-project"},
                       {"tenant_id": "demo-project"}, {"name": f"a-{key.split('_')[-1]}"}):
            assert ok(alt.get(f"/v2.0/{collection}", params=params))[plural] == [], params
    rule = world["rule"]["id"]
    assert error(alt.get(f"/v2.0/security-group-rules/{rule}"), 404)["type"] == \
        "SecurityGroupRuleNotFound"
    error(alt.delete(f"/v2.0/security-group-rules/{rule}"), 404)
    assert ok(alt.get("/v2.0/security-group-rules", params={
        "security_group_id": world["sg"]["id"]}))["security_group_rules"] == []
    # Nothing changed.
    admin = cloud.client("CentralRegion")
    for collection, key, object_id, _ in a_objects(world):
        assert ok(admin.get(f"/v2.0/{collection}/{object_id}"))[key]["name"].startswith("a-")


@pytest.mark.parametrize("region", REGIONS)
def test_fields_naming_another_projects_objects(cloud: Cloud, world: dict[str, Body],
                                                region: str) -> None:
    alt = cloud.client(region, "alt-token")
    net, sub, sg = world["net"]["id"], world["sub"]["id"], world["sg"]["id"]
    b_net, b_port, b_sg = world["b_net"]["id"], world["b_port"]["id"], world["b_sg"]["id"]
    before = {p["id"] for p in ok(cloud.client("CentralRegion").get("/v2.0/ports"))["ports"]}

    def refused(resp: httpx.Response, kind: str) -> None:
        assert error(resp, 404)["type"] == kind

    refused(alt.post("/v2.0/ports", json={"port": {"network_id": net}}), "NetworkNotFound")
    refused(alt.post("/v2.0/ports", json={"port": {
        "network_id": b_net, "fixed_ips": [{"subnet_id": sub}]}}), "SubnetNotFound")
    refused(alt.post("/v2.0/ports", json={"port": {
        "network_id": b_net, "security_groups": [sg]}}), "SecurityGroupNotFound")
    refused(alt.put(f"/v2.0/ports/{b_port}", json={"port": {"security_groups": [sg]}}),
            "SecurityGroupNotFound")
    if region == "CentralRegion":  # networks, subnets and groups are made at central
        refused(alt.post("/v2.0/subnets", json={"subnet": {
            "network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4}}), "NetworkNotFound")
        refused(alt.post("/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": sg, "direction": "ingress"}}), "SecurityGroupNotFound")
        refused(alt.post("/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": b_sg, "direction": "ingress", "remote_group_id": sg}}),
            "SecurityGroupNotFound")
    after = {p["id"] for p in ok(cloud.client("CentralRegion").get("/v2.0/ports"))["ports"]}
    assert after == before
    shown = ok(alt.get(f"/v2.0/ports/{b_port}"))["port"]
    assert sg not in shown["security_groups"]


def test_admin_sees_and_changes_everything(cloud: Cloud, world: dict[str, Body]) -> None:
    for region in REGIONS:
        admin = cloud.client(region)
        for collection, key, object_id, _ in a_objects(world):
            shown = ok(admin.get(f"/v2.0/{collection}/{object_id}"))[key]
            assert shown["project_id"] == "demo-project"
        mine = ok(admin.get("/v2.0/networks", params={"project_id": "demo-project"}))
        assert [n["id"] for n in mine["networks"]] == [world["net"]["id"]]
    admin = cloud.client("CentralRegion")
    ok(admin.put(f"/v2.0/ports/{world['port']['id']}", json={"port": {"name": "a-admin"}}))
    ok(admin.get("/v2.0/quotas/demo-project"))


def test_reader_reads_and_writes_nothing(cloud: Cloud, world: dict[str, Body]) -> None:
    for region in REGIONS:
        reader = cloud.client(region, "reader-token")
        for collection, key, object_id, _ in a_objects(world):
            url = f"/v2.0/{collection}/{object_id}"
            assert ok(reader.get(url))[key]["id"] == object_id
            assert error(reader.put(url, json={key: {"name": "x"}}), 403)["type"] == \
                "PolicyNotAuthorized", url
            assert error(reader.delete(url), 403)["type"] == "PolicyNotAuthorized", url
        error(reader.post("/v2.0/ports", json={"port": {"network_id": world["net"]["id"]}}),
              403)
        # Another project's objects are as hidden from A's reader as A's are from B.
        error(reader.get(f"/v2.0/networks/{world['b_net']['id']}"), 404)
    reader = cloud.client("CentralRegion", "reader-token")
    for collection, member in (("networks", "network"), ("security-groups",
                                                         "security_group")):
        error(reader.post(f"/v2.0/{collection}", json={member: {"name": "x"}}), 403)
    error(reader.put(f"/v2.0/networks/{world['net']['id']}/tags/x"), 403)
    ok(reader.get("/v2.0/quotas/demo-project"))


def test_quotas_and_the_admin_api_are_not_another_projects(cloud: Cloud,
                                                            world: dict[str, Body]) -> None:
    alt = cloud.client("CentralRegion", "alt-token")
    for url in ("/v2.0/quotas/demo-project", "/v2.0/quotas/demo-project/details",
                "/v2.0/quotas"):
        error(alt.get(url), 403)
    error(alt.put("/v2.0/quotas/demo-project", json={"quota": {"network": 1}}), 403)
    error(alt.delete("/v2.0/quotas/demo-project"), 403)
    ok(alt.get("/v2.0/quotas/alt-project"))
    port = world["port"]["id"]
    for region in REGIONS:
        client = cloud.client(region, "alt-token")
        status = client.put(f"/v1.0/ports/{port}/status", json={"status": "ACTIVE"})
        assert status.status_code in (403, 404), status.text
    for url in ("/v1.0/pods", "/v1.0/routings", "/v1.0/jobs"):
        assert alt.get(url).status_code == 403, url
    region = cloud.client("RegionOne", "alt-token")
    assert region.post(f"/v1.0/mirrors/ports/{port}/sync").status_code == 403
    assert region.put("/v1.0/agents/host-x", json={"agent": {}}).status_code in (400, 403)
