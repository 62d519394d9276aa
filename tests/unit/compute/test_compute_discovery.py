"""Version discovery, microversion negotiation, flavors, images, errors in Nova's format."""

from __future__ import annotations

from compute_testing import ComputeCloud, fault, ok

from tricircle_lb.compute.catalog import image_id_of


def test_version_documents(cc: ComputeCloud) -> None:
    client = cc.compute(version=None)
    versions = ok(client.get("/"))["versions"]
    assert [(v["id"], v["status"]) for v in versions] == [("v2.0", "SUPPORTED"),
                                                          ("v2.1", "CURRENT")]
    v21 = versions[1]
    assert (v21["min_version"], v21["version"]) == ("2.1", "2.79")
    assert v21["links"][0]["href"] == "http://c1.test/v2.1/"
    assert ok(client.get("/v2.1"))["version"]["id"] == "v2.1"
    assert ok(client.get("/v2.1/"))["version"]["version"] == "2.79"
    glance = client.get("/image")
    assert glance.status_code == 300
    assert glance.json()["versions"][0]["links"][0]["href"] == "http://c1.test/image/v2/"
    assert ok(client.get("/image/versions"))["versions"][0]["status"] == "CURRENT"


def test_microversion_headers(cc: ComputeCloud) -> None:
    client = cc.compute(version=None)
    resp = client.get("/v2.1/flavors")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in resp.headers["Vary"]
    for asked, got in (("compute 2.79", "2.79"), ("compute latest", "2.79"),
                       ("compute 2.47", "2.47"), ("volume 3.5, compute 2.60", "2.60")):
        resp = client.get("/v2.1/flavors", headers={"OpenStack-API-Version": asked})
        assert resp.headers["OpenStack-API-Version"] == f"compute {got}", asked
    resp = client.get("/v2.1/flavors", headers={"X-OpenStack-Nova-API-Version": "2.53"})
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.53"
    assert "2.3" in fault(client.get("/v2.1/flavors", headers={
        "OpenStack-API-Version": "compute 2.300"}), 406)
    assert "Minimum is 2.1 and maximum is 2.79" in fault(client.get(
        "/v2.1/flavors", headers={"OpenStack-API-Version": "compute 3.0"}), 406)
    assert "invalid format" in fault(client.get(
        "/v2.1/flavors", headers={"OpenStack-API-Version": "compute two"}), 400)
    assert client.get("/v2.1/flavors", headers={
        "OpenStack-API-Version": "compute 2.0"}).status_code == 406


def test_flavors_like_a_fresh_nova(cc: ComputeCloud) -> None:
    client = cc.compute()
    brief = ok(client.get("/v2.1/flavors"))["flavors"]
    assert [(f["id"], f["name"]) for f in brief] == [
        ("1", "m1.tiny"), ("2", "m1.small"), ("3", "m1.medium"), ("4", "m1.large"),
        ("42", "m1.nano")]
    detail = {f["name"]: f for f in ok(client.get("/v2.1/flavors/detail"))["flavors"]}
    tiny = detail["m1.tiny"]
    assert (tiny["ram"], tiny["vcpus"], tiny["disk"]) == (512, 1, 1)
    assert detail["m1.nano"]["ram"] == 128
    assert (detail["m1.large"]["ram"], detail["m1.large"]["vcpus"]) == (8192, 4)
    assert tiny["extra_specs"] == {} and tiny["swap"] == 0
    assert ok(client.get("/v2.1/flavors/42"))["flavor"]["name"] == "m1.nano"
    assert ok(client.get("/v2.1/flavors/1/os-extra_specs")) == {"extra_specs": {}}
    assert "could not be found" in fault(client.get("/v2.1/flavors/99"), 404)
    old = cc.compute(version="2.1")
    assert ok(old.get("/v2.1/flavors/1"))["flavor"]["swap"] == ""


def test_images_through_glance(cc: ComputeCloud) -> None:
    client = cc.compute()
    images = ok(client.get("/image/v2/images"))["images"]
    assert sorted(i["name"] for i in images) == ["amphora-x64-haproxy", "cirros"]
    assert all(i["status"] == "active" and i["visibility"] == "public"
               and i["disk_format"] == "qcow2" and i["container_format"] == "bare"
               and i["size"] > 0 for i in images)
    amphora = ok(client.get("/image/v2/images", params={"tag": "amphora"}))["images"]
    assert [i["name"] for i in amphora] == ["amphora-x64-haproxy"]
    assert amphora[0]["id"] == image_id_of("RegionOne", "amphora-x64-haproxy")
    assert amphora[0]["id"] != image_id_of("RegionTwo", "amphora-x64-haproxy")
    named = ok(client.get("/image/v2/images", params={"name": "cirros"}))["images"]
    assert len(named) == 1
    assert ok(client.get("/image/v2/images", params={"visibility": "private"}))["images"] == []
    shown = ok(client.get(f"/image/v2/images/{named[0]['id']}"))
    assert shown["name"] == "cirros"
    missing = client.get("/image/v2/images/cirros")
    assert missing.status_code == 404 and missing.json()["title"] == "Not Found"
    page = ok(client.get("/image/v2/images", params={"limit": 1}))
    assert len(page["images"]) == 1 and "next" in page
    # Nova's image proxy answers below 2.36, as in Nova.
    old = cc.compute(version="2.35")
    assert len(ok(old.get("/v2.1/images/detail"))["images"]) == 2
    assert cc.compute().get("/v2.1/images").status_code == 404


def test_zones_limits_hypervisors_keypairs(cc: ComputeCloud) -> None:
    demo, admin = cc.compute(), cc.compute("admin-token")
    zones = ok(demo.get("/v2.1/os-availability-zone"))["availabilityZoneInfo"]
    assert [z["zoneName"] for z in zones] == ["az1"]
    detail = ok(admin.get("/v2.1/os-availability-zone/detail"))["availabilityZoneInfo"]
    assert set(detail[1]["hosts"]) == {"RegionOne-host1", "RegionOne-host2"}
    assert "forbidden" in demo.get("/v2.1/os-availability-zone/detail").json()
    hypervisors = ok(admin.get("/v2.1/os-hypervisors/detail"))["hypervisors"]
    assert [h["hypervisor_hostname"] for h in hypervisors] == ["RegionOne-host1",
                                                               "RegionOne-host2"]
    assert fault(demo.get("/v2.1/os-hypervisors"), 403)
    limits = ok(demo.get("/v2.1/limits"))["limits"]["absolute"]
    assert limits["totalInstancesUsed"] == 0 and limits["maxTotalInstances"] > 0
    assert ok(demo.get("/v2.1/os-keypairs")) == {"keypairs": []}


def test_errors_in_nova_format(cc: ComputeCloud) -> None:
    client = cc.compute()
    assert fault(client.get("/v2.1/servers/nope"), 404) == "Instance nope could not be found."
    assert fault(client.get("/v2.1/no-such-thing"), 404)
    unauthenticated = cc.compute(token="bad-token")
    assert unauthenticated.get("/v2.1/servers").status_code == 401
    bad_json = client.post("/v2.1/servers", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert fault(bad_json, 400) == "Malformed request body"
    unknown = client.post("/v2.1/servers", json={"server": {
        "name": "x", "flavorRef": "1", "imageRef": "y", "networks": "none", "bogus": 1}})
    assert "bogus" in fault(unknown, 400)
    wrong_type = client.post("/v2.1/servers", json={"server": {
        "name": 5, "flavorRef": "1", "networks": "none"}})
    assert "name" in fault(wrong_type, 400)
    assert "required" in fault(client.post("/v2.1/servers", json={}), 400)
