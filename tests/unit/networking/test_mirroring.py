"""Tricircle's semantics: on-demand mirrors, routing, local networks, durable sync jobs."""

from __future__ import annotations

import httpx
import pytest
from networking_testing import Cloud, error, ok


def make_net(cloud: Cloud, name: str = "net1", token: str = "admin-token", **extra: object):
    central = cloud.client("CentralRegion", token)
    net = ok(central.post("/v2.0/networks", json={"network": {"name": name, **extra}}), 201)
    return net["network"]


def test_region_mirrors_central_network_with_same_id_and_segment(cloud: Cloud) -> None:
    net = make_net(cloud)
    assert net["provider:network_type"] == "vxlan"
    assert net["provider:segmentation_id"] == 1001
    subnet = ok(cloud.client("CentralRegion").post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.10.0/24", "ip_version": 4,
        "gateway_ip": None}}), 201)["subnet"]
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": "10.0.10.1", "end": "10.0.10.254"}]

    for region in ("RegionOne", "RegionTwo"):
        mirror = ok(cloud.client(region).get(f"/v2.0/networks/{net['id']}"))["network"]
        assert mirror["id"] == net["id"]
        assert mirror["provider:segmentation_id"] == 1001
        assert mirror["subnets"] == [subnet["id"]]  # mirrored with the network
        # A name look-up (how the CLI resolves names) finds it too.
        found = ok(cloud.client(region).get("/v2.0/networks", params={"name": "net1"}))
        assert [n["id"] for n in found["networks"]] == [net["id"]]

    routings = ok(cloud.client("CentralRegion").get(
        "/v1.0/routings", params={"top_id": net["id"]}))["routings"]
    pods = {p["pod_id"]: p["region_name"] for p in
            ok(cloud.client("CentralRegion").get("/v1.0/pods"))["pods"]}
    assert sorted(pods[r["pod_id"]] for r in routings) == ["RegionOne", "RegionTwo"]
    central_view = ok(cloud.client("CentralRegion").get(f"/v2.0/networks/{net['id']}"))
    assert central_view["network"]["availability_zones"] == ["az1", "az2"]


def make_subnet(cloud: Cloud, network_id: str, cidr: str) -> dict[str, object]:
    subnet: dict[str, object] = ok(cloud.client("CentralRegion").post("/v2.0/subnets", json={
        "subnet": {"network_id": network_id, "cidr": cidr, "ip_version": 4}}), 201)["subnet"]
    return subnet


def test_a_network_comes_with_its_subnets_registered_for_the_region(cloud: Cloud) -> None:
    net = make_net(cloud)
    subnets = [make_subnet(cloud, net["id"], cidr) for cidr in ("10.0.10.0/24", "10.0.11.0/24")]
    r2 = cloud.client("RegionTwo")
    # A name look-up, as `openstack --os-region-name RegionTwo network show net1` does.
    shown = ok(r2.get("/v2.0/networks", params={"name": "net1"}))["networks"]
    assert sorted(shown[0]["subnets"]) == sorted(s["id"] for s in subnets)
    central = cloud.client("CentralRegion")
    for subnet in subnets:
        routings = ok(central.get("/v1.0/routings", params={"top_id": subnet["id"]}))
        assert [r["resource_type"] for r in routings["routings"]] == ["subnet"]
    # They are mirrors: served by the region without asking central.
    cloud.router.down.add("central.test")
    listed = ok(r2.get("/v2.0/subnets", params={"network_id": net["id"]}))["subnets"]
    assert sorted(s["cidr"] for s in listed) == ["10.0.10.0/24", "10.0.11.0/24"]
    assert ok(r2.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == shown[0]["subnets"]


def test_a_network_sync_brings_subnets_created_after_the_first_mirror(cloud: Cloud) -> None:
    net = make_net(cloud)
    r1, central = cloud.client("RegionOne"), cloud.client("CentralRegion")
    assert ok(r1.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == []
    subnet = make_subnet(cloud, net["id"], "10.0.10.0/24")  # central tells the region
    cloud.run_jobs()
    assert ok(r1.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == [subnet["id"]]
    ok(central.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "renamed"}}))
    cloud.run_jobs()
    assert ok(r1.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == [subnet["id"]]
    # A subnet deleted at central leaves the region's network too (its own sync job).
    ok(central.delete(f"/v2.0/subnets/{subnet['id']}"), 204)
    cloud.run_jobs()
    assert ok(r1.get(f"/v2.0/networks/{net['id']}"))["network"]["subnets"] == []
    error(r1.get(f"/v2.0/subnets/{subnet['id']}"), 404)


def test_a_subnet_deleted_while_its_network_is_mirrored_is_skipped(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    net = make_net(cloud)
    gone, kept = (make_subnet(cloud, net["id"], cidr)
                  for cidr in ("10.0.10.0/24", "10.0.11.0/24"))
    # Central listed both subnets with the network, then lost one before the region asked.
    route = cloud.router.handle_request

    def racing(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == f"/v2.0/subnets/{gone['id']}":
            return httpx.Response(404, json={"NeutronError": {
                "type": "SubnetNotFound", "message": "gone", "detail": ""}})
        return route(request)
    monkeypatch.setattr(cloud.router, "handle_request", racing)
    mirror = ok(cloud.client("RegionOne").get(f"/v2.0/networks/{net['id']}"))["network"]
    assert mirror["subnets"] == [kept["id"]]


def test_port_created_in_region_is_allocated_at_central(cloud: Cloud) -> None:
    net = make_net(cloud)
    ok(cloud.client("CentralRegion").post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.10.0/24", "ip_version": 4}}), 201)
    r1 = cloud.client("RegionOne")
    port = ok(r1.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": "p1", "binding:host_id": "host-a"}}), 201)["port"]
    assert port["fixed_ips"][0]["ip_address"] == "10.0.10.2"  # .1 is the gateway
    assert port["mac_address"].startswith("fa:16:3e:")
    at_central = ok(cloud.client("CentralRegion").get(f"/v2.0/ports/{port['id']}"))["port"]
    assert at_central["fixed_ips"] == port["fixed_ips"]
    assert at_central["binding:host_id"] == "host-a"
    # The subnet and the default security group came along with the port.
    assert ok(r1.get(f"/v2.0/subnets/{port['fixed_ips'][0]['subnet_id']}"))
    assert ok(r1.get(f"/v2.0/security-groups/{port['security_groups'][0]}"))

    # Rebinding in the region is recorded at central.
    moved = ok(r1.put(f"/v2.0/ports/{port['id']}",
                      json={"port": {"binding:host_id": "host-b"}}))["port"]
    assert moved["binding:host_id"] == "host-b"
    assert ok(cloud.client("CentralRegion").get(
        f"/v2.0/ports/{port['id']}"))["port"]["binding:host_id"] == "host-b"


def test_local_network_of_another_region_is_refused(cloud: Cloud) -> None:
    net = make_net(cloud, "local-net", **{"provider:network_type": "local",
                                           "availability_zone_hints": ["RegionTwo"]})
    ok(cloud.client("CentralRegion").post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.30.0/24", "ip_version": 4}}), 201)
    err = error(cloud.client("RegionOne").get(f"/v2.0/networks/{net['id']}"), 400)
    assert "network not located in current region" in err["message"]
    err = error(cloud.client("RegionOne").post("/v2.0/ports", json={"port": {
        "network_id": net["id"]}}), 400)
    assert "network not located in current region" in err["message"]
    # Nothing was created at central by the refused port.
    ports = ok(cloud.client("CentralRegion").get("/v2.0/ports",
                                                 params={"network_id": net["id"]}))
    assert ports["ports"] == []
    # Its own region uses it.
    assert ok(cloud.client("RegionTwo").get(f"/v2.0/networks/{net['id']}"))


def test_local_network_without_hint_belongs_to_first_region_using_it(cloud: Cloud) -> None:
    net = make_net(cloud, "loose", **{"provider:network_type": "local"})
    assert ok(cloud.client("RegionTwo").get(f"/v2.0/networks/{net['id']}"))
    err = error(cloud.client("RegionOne").get(f"/v2.0/networks/{net['id']}"), 400)
    assert "network not located in current region" in err["message"]


def test_update_and_delete_reach_mirrors_through_jobs(cloud: Cloud) -> None:
    net = make_net(cloud)
    r1 = cloud.client("RegionOne")
    ok(r1.get(f"/v2.0/networks/{net['id']}"))
    central = cloud.client("CentralRegion")
    ok(central.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "renamed"}}))
    jobs = ok(central.get("/v1.0/jobs"))["jobs"]
    assert [j["status"] for j in jobs] == ["NEW"]
    assert cloud.run_jobs() == 1
    assert ok(r1.get(f"/v2.0/networks/{net['id']}"))["network"]["name"] == "renamed"

    ok(central.delete(f"/v2.0/networks/{net['id']}"), 204)
    cloud.run_jobs()
    error(r1.get(f"/v2.0/networks/{net['id']}"), 404)
    assert ok(central.get("/v1.0/routings", params={"top_id": net["id"]}))["routings"] == []


def test_an_address_freed_at_central_is_reused_before_the_region_hears_of_it(
        cloud: Cloud) -> None:
    net = make_net(cloud)
    ok(cloud.client("CentralRegion").post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.10.0/29", "ip_version": 4}}), 201)
    r1, central = cloud.client("RegionOne"), cloud.client("CentralRegion")
    old = ok(r1.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)["port"]
    ok(central.delete(f"/v2.0/ports/{old['id']}"), 204)  # its sync job has not run yet
    new = ok(r1.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)["port"]
    assert new["fixed_ips"] == old["fixed_ips"]  # central gave the address out again
    address = old["fixed_ips"][0]["ip_address"]
    found = ok(r1.get("/v2.0/ports", params={"fixed_ips": f"ip_address={address}"}))["ports"]
    assert [p["id"] for p in found] == [new["id"]]
    cloud.run_jobs()
    error(r1.get(f"/v2.0/ports/{old['id']}"), 404)


def test_sync_job_survives_an_unreachable_region(cloud: Cloud) -> None:
    net = make_net(cloud)
    r2 = cloud.client("RegionTwo")
    ok(r2.get(f"/v2.0/networks/{net['id']}"))
    central = cloud.client("CentralRegion")
    cloud.router.down.add("r2.test")
    ok(central.delete(f"/v2.0/networks/{net['id']}"), 204)
    cloud.run_jobs()
    job = ok(central.get("/v1.0/jobs"))["jobs"][0]
    assert job["status"] == "NEW" and job["attempts"] == 1
    assert "unreachable" in job["last_error"]
    cloud.router.down.clear()
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and cloud.run_jobs() == 0:
        time.sleep(0.05)
    assert ok(central.get("/v1.0/jobs"))["jobs"][0]["status"] == "SUCCESS"
    error(r2.get(f"/v2.0/networks/{net['id']}"), 404)


def test_network_created_through_a_region_is_bound_to_it(cloud: Cloud) -> None:
    r1 = cloud.client("RegionOne")
    net = ok(r1.post("/v2.0/networks", json={"network": {"name": "r1net"}}), 201)["network"]
    assert net["availability_zone_hints"] == ["RegionOne"]
    at_central = ok(cloud.client("CentralRegion").get(f"/v2.0/networks/{net['id']}"))
    assert at_central["network"]["availability_zone_hints"] == ["RegionOne"]
    ok(r1.delete(f"/v2.0/networks/{net['id']}"), 204)
    error(cloud.client("CentralRegion").get(f"/v2.0/networks/{net['id']}"), 404)
    error(r1.get(f"/v2.0/networks/{net['id']}"), 404)


def test_demo_project_cannot_see_or_use_admin_networks(cloud: Cloud) -> None:
    net = make_net(cloud)
    for region in ("CentralRegion", "RegionOne"):
        demo = cloud.client(region, "demo-token")
        error(demo.get(f"/v2.0/networks/{net['id']}"), 404)
        assert ok(demo.get("/v2.0/networks", params={"name": "net1"}))["networks"] == []
        error(demo.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 404)
