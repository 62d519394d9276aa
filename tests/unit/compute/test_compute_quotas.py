"""Compute quotas (issue 10): instances, cores and RAM counted at create and refused
with Nova's 403; ``os-quota-sets`` to read and set them, scoped to the project."""

from __future__ import annotations

from typing import Any

from compute_testing import ComputeCloud, fault, ok

from tricircle_lb.compute.catalog import image_id_of

CIRROS = image_id_of("RegionOne", "cirros")
QUOTAS = "/v2.1/os-quota-sets"


def boot(cc: ComputeCloud, flavor: str = "1", token: str = "demo-token") -> Any:
    return cc.compute(token).post("/v2.1/servers", json={"server": {
        "name": "vm", "imageRef": CIRROS, "flavorRef": flavor, "networks": "none"}})


def test_instances_past_the_quota_are_refused_as_nova_does(cc: ComputeCloud) -> None:
    admin = cc.compute("admin-token")
    ok(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {"instances": 2}}))
    first = ok(boot(cc), 202)["server"]["id"]
    ok(boot(cc), 202)
    assert fault(boot(cc), 403) == ("Quota exceeded for instances: Requested 1, but "
                                    "already used 2 of 2 instances")
    limits = ok(cc.compute().get("/v2.1/limits"))["limits"]["absolute"]
    assert (limits["maxTotalInstances"], limits["totalInstancesUsed"]) == (2, 2)
    ok(cc.compute().delete(f"/v2.1/servers/{first}"), 204)
    ok(boot(cc), 202)
    # Another project counts its own.
    ok(boot(cc, token="alt-token"), 202)


def test_cores_and_ram_count_the_flavors(cc: ComputeCloud) -> None:
    admin = cc.compute("admin-token")
    ok(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {"cores": 3, "ram": 4096}}))
    ok(boot(cc, flavor="3"), 202)  # m1.medium: 2 vCPUs, 4096 MB
    assert fault(boot(cc, flavor="3"), 403) == (
        "Quota exceeded for cores, ram: Requested 2, but already used 2 of 3 cores, ram")
    assert fault(boot(cc, flavor="1"), 403).startswith("Quota exceeded for ram:")


def test_quota_sets_are_read_by_their_project_and_set_by_admins(cc: ComputeCloud) -> None:
    demo, alt, admin = cc.compute(), cc.compute("alt-token"), cc.compute("admin-token")
    mine = ok(demo.get(f"{QUOTAS}/demo-project"))["quota_set"]
    assert (mine["id"], mine["instances"], mine["cores"], mine["ram"]) == (
        "demo-project", 10, 20, 51200)
    assert "injected_files" not in mine  # gone from 2.57
    assert fault(alt.get(f"{QUOTAS}/demo-project"), 403)
    assert fault(demo.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "instances": 100}}), 403)
    ok(boot(cc), 202)
    assert fault(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "instances": 0}}), 400) == ("Quota limit 0 for instances must be greater than or "
                                     "equal to already used and reserved 1.")
    assert fault(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "bogus": 1}}), 400).endswith("('bogus' was unexpected)")
    assert fault(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "instances": -2}}), 400)
    forced = ok(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "instances": 0, "force": True}}))["quota_set"]
    assert forced["instances"] == 0
    detail = ok(demo.get(f"{QUOTAS}/demo-project/detail"))["quota_set"]
    assert detail["instances"] == {"limit": 0, "in_use": 1, "reserved": 0}
    ok(admin.delete(f"{QUOTAS}/demo-project"), 202)
    assert ok(demo.get(f"{QUOTAS}/demo-project"))["quota_set"]["instances"] == 10
    defaults = ok(demo.get(f"{QUOTAS}/demo-project/defaults"))["quota_set"]
    assert defaults["instances"] == 10 and defaults["ram"] == 51200
    assert ok(admin.put(f"{QUOTAS}/demo-project", json={"quota_set": {
        "instances": -1}}))["quota_set"]["instances"] == -1
