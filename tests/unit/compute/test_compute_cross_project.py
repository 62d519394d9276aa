"""Issue 10: projects are strangers, through Nova's API of RegionOne.

Project A (demo) has an ACTIVE server on its network and a spare port;
project B (alt) has an ACTIVE server of its own. As Nova does: A's server is
not found for B (404 "Instance <id> could not be found.") on every route
(show, update, delete, actions, metadata, interfaces); listings are B's own
(``all_tenants`` is an admin's, 403); A's network and port named in B's
requests do not exist for B (networking is asked with B's token): 400 when
booting, 404 on ``server add port|network``. Quotas and limits of another
project are 403. Admin sees everything; A's ``reader`` reads and does not act.
"""

from __future__ import annotations

from typing import Any

import pytest
from compute_testing import ComputeCloud, fault, ok

from tricircle_lb.compute.catalog import image_id_of

Body = dict[str, Any]
CIRROS = image_id_of("RegionOne", "cirros")


def server(cc: ComputeCloud, token: str, name: str, network_id: str) -> str:
    resp = cc.compute(token).post("/v2.1/servers", json={"server": {
        "name": name, "imageRef": CIRROS, "flavorRef": "1",
        "networks": [{"uuid": network_id}]}})
    server_id = str(ok(resp, 202)["server"]["id"])
    cc.report(server_id, status="ACTIVE")
    return server_id


@pytest.fixture
def world(cc: ComputeCloud) -> Body:
    a_net = cc.make_network("a-net", token="demo-token")
    b_net = cc.make_network("b-net", token="alt-token", cidr="10.0.20.0/24")
    spare = ok(cc.network("CentralRegion", "demo-token").post("/v2.0/ports", json={
        "port": {"network_id": a_net["id"], "name": "a-spare"}}), 201)["port"]
    return {"a_net": a_net["id"], "b_net": b_net["id"], "spare": spare["id"],
            "a": server(cc, "demo-token", "a-vm", a_net["id"]),
            "b": server(cc, "alt-token", "b-vm", b_net["id"])}


def test_another_projects_server_is_not_found(cc: ComputeCloud, world: Body) -> None:
    alt = cc.compute("alt-token")
    a = world["a"]
    gone = f"Instance {a} could not be found."
    url = f"/v2.1/servers/{a}"
    port = cc.ports_of(a)[0]["id"]
    calls = [alt.get(url), alt.put(url, json={"server": {"name": "x"}}), alt.delete(url),
             alt.post(f"{url}/action", json={"os-stop": None}),
             alt.post(f"{url}/action", json={"reboot": {"type": "SOFT"}}),
             alt.get(f"{url}/metadata"), alt.post(f"{url}/metadata", json={"metadata": {
                 "k": "v"}}),
             alt.put(f"{url}/metadata/k", json={"meta": {"k": "v"}}),
             alt.delete(f"{url}/metadata/k"),
             alt.get(f"{url}/os-interface"), alt.get(f"{url}/os-interface/{port}"),
             alt.post(f"{url}/os-interface", json={"interfaceAttachment": {
                 "net_id": world["b_net"]}}),
             alt.delete(f"{url}/os-interface/{port}")]
    for resp in calls:
        assert fault(resp, 404) == gone, resp.request.url
    # Listings are B's own, whatever B asks for.
    for params in ({}, {"project_id": "demo-project"}, {"tenant_id": "demo-project"},
                   {"name": "a-vm"}, {"ip": "10.0.10"}):
        for path in ("/v2.1/servers", "/v2.1/servers/detail"):
            found = {s["id"] for s in ok(alt.get(path, params=params))["servers"]}
            assert a not in found, (path, params)
    assert fault(alt.get("/v2.1/servers", params={"all_tenants": "1"}), 403)
    # Nothing changed.
    shown = ok(cc.compute("admin-token").get(url))["server"]
    assert shown["name"] == "a-vm" and shown["status"] == "ACTIVE"
    assert len(cc.ports_of(a)) == 1


def test_another_projects_network_and_port_do_not_exist(cc: ComputeCloud,
                                                        world: Body) -> None:
    alt = cc.compute("alt-token")
    b, spare, a_net = world["b"], world["spare"], world["a_net"]
    # Booting on them: 400 (Nova's NetworkNotFound / PortNotFound as bad requests).
    for networks, text in (([{"uuid": a_net}], f"Network {a_net} could not be found."),
                           ([{"port": spare}], f"Port id {spare} could not be found.")):
        assert fault(alt.post("/v2.1/servers", json={"server": {
            "name": "x", "imageRef": CIRROS, "flavorRef": "1", "networks": networks}}),
            400) == text
    # ``server add port|network`` with them: 404.
    attach = f"/v2.1/servers/{b}/os-interface"
    assert fault(alt.post(attach, json={"interfaceAttachment": {"port_id": spare}}), 404) \
        == f"Port {spare} could not be found."
    assert fault(alt.post(attach, json={"interfaceAttachment": {"net_id": a_net}}), 404) \
        == f"Network {a_net} could not be found."
    # A's port is still free and A's network has no port of B's.
    port = ok(cc.network("CentralRegion").get(f"/v2.0/ports/{spare}"))["port"]
    assert port["device_id"] == "" and port["binding:host_id"] == ""
    assert {p["project_id"] for p in cc.central_ports(a_net)} == {"demo-project"}
    assert {s["id"] for s in ok(cc.compute("admin-token").get("/v2.1/servers", params={
        "all_tenants": "1"}))["servers"]} == {world["a"], b}


def test_quotas_and_limits_of_another_project(cc: ComputeCloud, world: Body) -> None:
    alt = cc.compute("alt-token")
    rule = "Policy doesn't allow os_compute_api:os-quota-sets:{} to be performed."
    for path in ("/v2.1/os-quota-sets/demo-project",
                 "/v2.1/os-quota-sets/demo-project/detail"):
        assert fault(alt.get(path), 403) == rule.format("show")
    fault(alt.put("/v2.1/os-quota-sets/demo-project", json={"quota_set": {
        "instances": 1}}), 403)
    fault(alt.delete("/v2.1/os-quota-sets/demo-project"), 403)
    ok(alt.get("/v2.1/os-quota-sets/demo-project/defaults"))
    assert fault(alt.get("/v2.1/limits", params={"tenant_id": "demo-project"}), 403) == \
        "Policy doesn't allow os_compute_api:limits:other_project to be performed."
    mine = ok(alt.get("/v2.1/limits"))["limits"]["absolute"]
    assert mine["totalInstancesUsed"] == 1
    theirs = ok(cc.compute("admin-token").get("/v2.1/limits", params={
        "tenant_id": "demo-project"}))["limits"]["absolute"]
    assert theirs["totalInstancesUsed"] == 1
    # Flavors and images are a fixed catalog, everyone's to read.
    ok(alt.get("/v2.1/flavors/1"))
    assert ok(alt.get(f"/image/v2/images/{CIRROS}"))["id"] == CIRROS
    assert CIRROS in {i["id"] for i in ok(alt.get("/image/v2/images"))["images"]}


def test_admin_and_reader(cc: ComputeCloud, world: Body) -> None:
    admin = cc.compute("admin-token")
    a = world["a"]
    assert ok(admin.get(f"/v2.1/servers/{a}"))["server"]["tenant_id"] == "demo-project"
    ok(admin.get(f"/v2.1/servers/{a}/os-interface"))
    ok(admin.get("/v2.1/os-quota-sets/demo-project"))
    reader = cc.compute("reader-token")
    url = f"/v2.1/servers/{a}"
    assert ok(reader.get(url))["server"]["id"] == a
    ok(reader.get(f"{url}/os-interface"))
    ok(reader.get("/v2.1/os-quota-sets/demo-project"))
    assert {s["id"] for s in ok(reader.get("/v2.1/servers"))["servers"]} == {a}
    for resp in (reader.put(url, json={"server": {"name": "x"}}), reader.delete(url),
                 reader.post(f"{url}/action", json={"os-stop": None}),
                 reader.post(f"{url}/metadata", json={"metadata": {"k": "v"}}),
                 reader.post(f"{url}/os-interface", json={"interfaceAttachment": {
                     "port_id": world["spare"]}}),
                 reader.post("/v2.1/servers", json={"server": {
                     "name": "x", "imageRef": CIRROS, "flavorRef": "1",
                     "networks": "none"}})):
        fault(resp, 403)
    assert fault(reader.get(f"/v2.1/servers/{world['b']}"), 404)
