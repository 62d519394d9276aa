"""Who sees and touches what: admin, member (demo), another project (alt), reader.

As in Neutron: a member sees its own project's resources and shared networks
(with their subnets); another project's resources are not found (404, not
403, so their ids do not leak); a visible resource it does not own is
refused with 403.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from networking_testing import Cloud, error, ok

CENTRAL = "CentralRegion"
Body = dict[str, Any]


def create(client: httpx.Client, collection: str, member: str, **attrs: Any) -> Body:
    result: Body = ok(client.post(f"/v2.0/{collection}", json={member: attrs}), 201)[member]
    return result


def ids(client: httpx.Client, collection: str) -> set[str]:
    return {r["id"] for r in ok(client.get(f"/v2.0/{collection}"))[
        collection.replace("-", "_")]}


@pytest.fixture
def world(cloud: Cloud) -> dict[str, Body]:
    """Admin's shared and private networks (with subnets and ports), and demo's own."""
    admin = cloud.client(CENTRAL)
    demo = cloud.client(CENTRAL, "demo-token")
    shared = create(admin, "networks", "network", name="shared", shared=True)
    private = create(admin, "networks", "network", name="private")
    shared_sub = create(admin, "subnets", "subnet", network_id=shared["id"],
                        cidr="10.0.0.0/24", ip_version=4)
    private_sub = create(admin, "subnets", "subnet", network_id=private["id"],
                         cidr="10.1.0.0/24", ip_version=4)
    admin_port = create(admin, "ports", "port", network_id=shared["id"])
    own = create(demo, "networks", "network", name="own")
    own_sub = create(demo, "subnets", "subnet", network_id=own["id"], cidr="10.2.0.0/24",
                     ip_version=4)
    own_port = create(demo, "ports", "port", network_id=own["id"])
    own_sg = create(demo, "security-groups", "security_group", name="own")
    return {"shared": shared, "private": private, "shared_sub": shared_sub,
            "private_sub": private_sub, "admin_port": admin_port, "own": own,
            "own_sub": own_sub, "own_port": own_port, "own_sg": own_sg}


def test_member_sees_own_and_shared(cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    assert ids(demo, "networks") == {world["shared"]["id"], world["own"]["id"]}
    assert ids(demo, "subnets") == {world["shared_sub"]["id"], world["own_sub"]["id"]}
    assert ids(demo, "ports") == {world["own_port"]["id"]}
    groups = ok(demo.get("/v2.0/security-groups"))["security_groups"]
    assert {g["project_id"] for g in groups} == {"demo-project"}
    rules = ok(demo.get("/v2.0/security-group-rules"))["security_group_rules"]
    assert {r["project_id"] for r in rules} == {"demo-project"}
    shown = ok(demo.get(f"/v2.0/subnets/{world['shared_sub']['id']}"))["subnet"]
    assert shown["project_id"] == "admin-project"
    # The reader of demo's project sees the same.
    reader = cloud.client(CENTRAL, "reader-token")
    assert ids(reader, "networks") == ids(demo, "networks")
    assert ids(reader, "ports") == ids(demo, "ports")
    # Another project sees the shared network and nothing of demo's.
    alt = cloud.client(CENTRAL, "alt-token")
    assert ids(alt, "networks") == {world["shared"]["id"]}
    assert ids(alt, "subnets") == {world["shared_sub"]["id"]}
    assert ids(alt, "ports") == set()


def test_admin_sees_everything(cloud: Cloud, world: dict[str, Body]) -> None:
    admin = cloud.client(CENTRAL)
    assert ids(admin, "networks") == {world[k]["id"] for k in ("shared", "private", "own")}
    assert ids(admin, "ports") == {world["admin_port"]["id"], world["own_port"]["id"]}
    assert world["own_sg"]["id"] in ids(admin, "security-groups")
    own = ok(admin.get(f"/v2.0/networks/{world['own']['id']}"))["network"]
    assert own["project_id"] == "demo-project"
    mine = ok(admin.get("/v2.0/networks", params={"project_id": "demo-project"}))
    assert [n["id"] for n in mine["networks"]] == [world["own"]["id"]]


def test_others_resources_are_not_found(cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    alt = cloud.client(CENTRAL, "alt-token")
    hidden = [(demo, "networks", "network", world["private"]["id"], "NetworkNotFound"),
              (demo, "subnets", "subnet", world["private_sub"]["id"], "SubnetNotFound"),
              (demo, "ports", "port", world["admin_port"]["id"], "PortNotFound"),
              (alt, "networks", "network", world["own"]["id"], "NetworkNotFound"),
              (alt, "subnets", "subnet", world["own_sub"]["id"], "SubnetNotFound"),
              (alt, "ports", "port", world["own_port"]["id"], "PortNotFound"),
              (alt, "security-groups", "security_group", world["own_sg"]["id"],
               "SecurityGroupNotFound")]
    for client, collection, member, resource_id, kind in hidden:
        path = f"/v2.0/{collection}/{resource_id}"
        assert error(client.get(path), 404)["type"] == kind
        assert error(client.put(path, json={member: {"name": "x"}}), 404)["type"] == kind
        assert error(client.delete(path), 404)["type"] == kind
        assert error(client.get(f"{path}/tags"), 404)["type"] == kind
        assert error(client.put(f"{path}/tags", json={"tags": ["x"]}), 404)["type"] == kind
    rule_id = world["own_sg"]["security_group_rules"][0]["id"]
    error(alt.get(f"/v2.0/security-group-rules/{rule_id}"), 404)
    error(alt.delete(f"/v2.0/security-group-rules/{rule_id}"), 404)
    # Nothing changed.
    admin = cloud.client(CENTRAL)
    assert ok(admin.get(f"/v2.0/networks/{world['own']['id']}"))["network"]["name"] == "own"
    assert ok(admin.get(f"/v2.0/ports/{world['admin_port']['id']}"))["port"]["tags"] == []


def test_shared_network_is_visible_but_not_the_members_to_change(
        cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    shared_id = world["shared"]["id"]
    err = error(demo.put(f"/v2.0/networks/{shared_id}", json={"network": {"name": "mine"}}),
                403)
    assert err["type"] == "PolicyNotAuthorized"
    error(demo.delete(f"/v2.0/networks/{shared_id}"), 403)
    error(demo.put(f"/v2.0/subnets/{world['shared_sub']['id']}", json={
        "subnet": {"name": "mine"}}), 403)
    error(demo.delete(f"/v2.0/subnets/{world['shared_sub']['id']}"), 403)
    # A member may not add subnets to a network it does not own.
    error(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": shared_id, "cidr": "10.9.0.0/24", "ip_version": 4}}), 403)
    assert ok(demo.get(f"/v2.0/networks/{shared_id}"))["network"]["name"] == "shared"


def test_tagging_a_shared_network_of_another_project_is_403(
        cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    path = f"/v2.0/networks/{world['shared']['id']}/tags"
    assert error(demo.put(path, json={"tags": ["x"]}), 403)["type"] == "PolicyNotAuthorized"


def test_shared_network_is_usable_by_another_project_for_ports(
        cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    made = create(demo, "ports", "port", network_id=world["shared"]["id"], name="on-shared")
    assert made["project_id"] == "demo-project"
    assert made["fixed_ips"] == [{"subnet_id": world["shared_sub"]["id"],
                                  "ip_address": "10.0.0.3"}]  # .2: admin's port
    default = ok(demo.get("/v2.0/security-groups", params={"name": "default"}))
    assert made["security_groups"] == [default["security_groups"][0]["id"]]
    assert made["id"] in ids(demo, "ports")
    assert made["id"] not in ids(cloud.client(CENTRAL, "alt-token"), "ports")
    renamed = ok(demo.put(f"/v2.0/ports/{made['id']}", json={"port": {"name": "r"}}))
    assert renamed["port"]["name"] == "r"
    # While another project has a port on it, it stays shared and stays.
    admin = cloud.client(CENTRAL)
    err = error(admin.put(f"/v2.0/networks/{world['shared']['id']}", json={
        "network": {"shared": False}}), 409)
    assert err["type"] == "NetworkInUse"
    ok(demo.delete(f"/v2.0/ports/{made['id']}"), 204)
    unshared = ok(admin.put(f"/v2.0/networks/{world['shared']['id']}", json={
        "network": {"shared": False}}))["network"]
    assert unshared["shared"] is False
    assert world["shared"]["id"] not in ids(demo, "networks")
    error(demo.post("/v2.0/ports", json={"port": {"network_id": world["shared"]["id"]}}),
          404)


def test_member_cannot_attach_to_a_private_network_of_another_project(
        cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    before = ids(cloud.client(CENTRAL), "ports")
    err = error(demo.post("/v2.0/ports", json={"port": {"network_id": world["private"]["id"]}}),
                404)
    assert err["type"] == "NetworkNotFound"
    error(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": world["private"]["id"], "cidr": "10.8.0.0/24", "ip_version": 4}}), 404)
    assert ids(cloud.client(CENTRAL), "ports") == before


def test_admin_creates_for_another_project(cloud: Cloud) -> None:
    admin = cloud.client(CENTRAL)
    demo = cloud.client(CENTRAL, "demo-token")
    network = create(admin, "networks", "network", name="for-demo", project_id="demo-project")
    assert (network["project_id"], network["tenant_id"]) == ("demo-project", "demo-project")
    sub = create(admin, "subnets", "subnet", network_id=network["id"], cidr="10.5.0.0/24",
                 ip_version=4, tenant_id="demo-project")
    port = create(admin, "ports", "port", network_id=network["id"],
                  project_id="demo-project")
    sg = create(admin, "security-groups", "security_group", name="for-demo",
                project_id="demo-project")
    assert {r["project_id"] for r in (sub, port, sg)} == {"demo-project"}
    # The port's default group is demo's, not admin's.
    default = ok(demo.get("/v2.0/security-groups", params={"name": "default"}))
    assert port["security_groups"] == [default["security_groups"][0]["id"]]
    assert ids(demo, "networks") == {network["id"]}
    assert ids(demo, "ports") == {port["id"]}
    # Demo owns them now: it may change and delete them.
    ok(demo.put(f"/v2.0/networks/{network['id']}", json={"network": {"name": "mine"}}))
    ok(demo.delete(f"/v2.0/ports/{port['id']}"), 204)
    # Ambiguous owners are refused.
    error(admin.post("/v2.0/networks", json={"network": {
        "project_id": "demo-project", "tenant_id": "alt-project"}}), 400)


def test_member_cannot_create_for_another_project(cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client(CENTRAL, "demo-token")
    before = {c: ids(cloud.client(CENTRAL), c) for c in ("networks", "subnets", "ports",
                                                          "security-groups")}
    attempts = [
        demo.post("/v2.0/networks", json={"network": {"project_id": "alt-project"}}),
        demo.post("/v2.0/subnets", json={"subnet": {
            "network_id": world["own"]["id"], "cidr": "10.7.0.0/24", "ip_version": 4,
            "project_id": "alt-project"}}),
        demo.post("/v2.0/ports", json={"port": {"network_id": world["own"]["id"],
                                                "tenant_id": "alt-project"}}),
        demo.post("/v2.0/security-groups", json={"security_group": {
            "name": "x", "project_id": "alt-project"}}),
    ]
    for resp in attempts:
        assert error(resp, 403)["type"] == "PolicyNotAuthorized"
    # Naming its own project is fine.
    mine = create(demo, "networks", "network", project_id="demo-project")
    assert mine["project_id"] == "demo-project"
    after = {c: ids(cloud.client(CENTRAL), c) for c in before}
    assert after == {**before, "networks": before["networks"] | {mine["id"]}}


def test_same_rules_through_a_region(cloud: Cloud, world: dict[str, Body]) -> None:
    demo = cloud.client("RegionOne", "demo-token")
    assert error(demo.get(f"/v2.0/networks/{world['private']['id']}"), 404)["type"] == \
        "NetworkNotFound"
    assert ok(demo.get(f"/v2.0/networks/{world['shared']['id']}"))["network"]["shared"]
    made = ok(demo.post("/v2.0/ports", json={"port": {"network_id": world["shared"]["id"]}}),
              201)["port"]
    assert made["project_id"] == "demo-project"
    # Mirrors do not widen what anyone sees: alt finds neither the port nor demo's network.
    alt = cloud.client("RegionOne", "alt-token")
    error(alt.get(f"/v2.0/ports/{made['id']}"), 404)
    ok(cloud.client("RegionOne").get(f"/v2.0/networks/{world['own']['id']}"))
    error(alt.get(f"/v2.0/networks/{world['own']['id']}"), 404)
    assert made["id"] not in ids(alt, "ports")
    assert world["own"]["id"] not in ids(alt, "networks")
    error(alt.delete(f"/v2.0/ports/{made['id']}"), 404)
    assert ok(cloud.client(CENTRAL).get(f"/v2.0/ports/{made['id']}"))["port"]["id"] == \
        made["id"]
