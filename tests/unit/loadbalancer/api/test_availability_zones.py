"""Availability zone profiles and zones through the real Octavia API of RegionOne."""

from __future__ import annotations

from typing import Any

from lb_testing import LbCloud, fault
from networking_testing import ok

API = "/v2/lbaas"
AZP = f"{API}/availabilityzoneprofiles"
AZ = f"{API}/availabilityzones"
POLICY = "Policy does not allow this request to be performed."
Body = dict[str, Any]


def profile(cloud: LbCloud, data: str = '{"compute_zone": "az1"}') -> Body:
    result: Body = ok(cloud.lb().post(AZP, json={"availability_zone_profile": {
        "name": "azp", "provider_name": "amphora", "availability_zone_data": data}}),
        201)["availability_zone_profile"]
    return result


def test_profile_and_zone_lifecycle(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    azp = profile(lb_cloud)
    assert azp["availability_zone_data"] == '{"compute_zone": "az1"}'
    listed = ok(admin.get(AZP))
    assert [p["id"] for p in listed["availability_zone_profiles"]] == [azp["id"]]
    assert listed["availability_zone_profile_links"] == []
    zone = ok(admin.post(AZ, json={"availability_zone": {
        "name": "edge", "description": "d", "availability_zone_profile_id": azp["id"]}}),
        201)["availability_zone"]
    assert zone == {"name": "edge", "description": "d", "enabled": True,
                    "availability_zone_profile_id": azp["id"]}
    assert fault(admin.post(AZ, json={"availability_zone": {
        "name": "edge", "availability_zone_profile_id": azp["id"]}}), 409) == \
        "A availability zone of edge already exists."
    names = [z["name"] for z in ok(admin.get(AZ))["availability_zones"]]
    assert names == ["az1", "edge"]
    # In use: its profile's settings cannot change, nor can it go.
    assert fault(admin.put(f"{AZP}/{azp['id']}", json={"availability_zone_profile": {
        "availability_zone_data": "{}"}}), 409).endswith("is in use and cannot be modified.")
    assert fault(admin.delete(f"{AZP}/{azp['id']}"), 409).endswith(
        "is in use and cannot be modified.")
    off = ok(admin.put(f"{AZ}/edge", json={"availability_zone": {"enabled": False}}))
    assert off["availability_zone"]["enabled"] is False
    # A disabled zone is refused to a new load balancer; an unknown one too.
    subnet = lb_cloud.subnet(lb_cloud.network()["id"], "10.0.1.0/24")
    for name, text in (("edge", "The selected availability_zone is not allowed in this "
                                "deployment: edge"),
                       ("nowhere", "Validation failure: Invalid availability zone.")):
        assert fault(admin.post(f"{API}/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": subnet["id"], "availability_zone": name}}), 400) == text
    ok(admin.put(f"{AZ}/edge", json={"availability_zone": {"enabled": True}}))
    lb = ok(admin.post(f"{API}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": subnet["id"], "availability_zone": "edge"}}), 201)["loadbalancer"]
    assert lb["availability_zone"] == "edge"
    assert fault(admin.delete(f"{AZ}/edge"), 409) == \
        "Availability Zone edge is in use and cannot be modified."
    lb_cloud.settle(lb["id"])
    assert admin.delete(f"{API}/loadbalancers/{lb['id']}").status_code == 204
    lb_cloud.settle(lb["id"])
    assert admin.delete(f"{AZ}/edge").status_code == 204
    assert fault(admin.get(f"{AZ}/edge"), 404) == "Availability Zone edge not found."
    assert admin.delete(f"{AZP}/{azp['id']}").status_code == 204
    assert fault(admin.get(f"{AZP}/{azp['id']}"), 404) == \
        f"Availability Zone Profile {azp['id']} not found."


def test_profile_data_as_octavia_checks_it(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    cases = [
        ("{bad", 400, "{bad is not a valid option for availability_zone_data"),
        ('{"colour": "red"}', 501, "Provider 'amphora' does not support a requested option: "
                                   "Additional properties are not allowed ('colour' was "
                                   "unexpected)"),
        ('{"management_network": "n"}', 501, "management_network is not supported"),
        ('{"compute_zone": "az9"}', 501, "run in compute zone 'az1' only"),
    ]
    for data, status, text in cases:
        assert text in fault(admin.post(AZP, json={"availability_zone_profile": {
            "name": "p", "provider_name": "amphora", "availability_zone_data": data}}), status)
    assert fault(admin.post(AZP, json={"availability_zone_profile": {
        "name": "p", "provider_name": "f5", "availability_zone_data": "{}"}}), 400) == \
        "Provider 'f5' is not enabled."
    assert ok(admin.get(AZP))["availability_zone_profiles"] == []


def test_capabilities_honour_fields(lb_cloud: LbCloud) -> None:
    caps = ok(lb_cloud.lb().get(f"{API}/providers/amphora/availability_zone_capabilities",
                                params={"fields": "name", "name": "compute_zone"}))
    assert caps == {"availability_zone_capabilities": [{"name": "compute_zone"}]}
    every = ok(lb_cloud.lb().get(f"{API}/providers/amphora/availability_zone_capabilities"))
    assert [c["name"] for c in every["availability_zone_capabilities"]] == [
        "compute_zone", "volume_zone", "management_network", "valid_vip_networks"]


def test_other_projects_read_zones_and_change_nothing(lb_cloud: LbCloud) -> None:
    """Cross-project: zones are everyone's to read; profiles and every write the
    operator's (403 with Octavia's text)."""
    azp = profile(lb_cloud)
    ok(lb_cloud.lb().post(AZ, json={"availability_zone": {
        "name": "edge", "availability_zone_profile_id": azp["id"]}}), 201)
    for token in ("demo-token", "alt-token", "reader-token"):
        caller = lb_cloud.lb(token=token)
        assert ok(caller.get(f"{AZ}/edge"))["availability_zone"]["name"] == "edge"
        for call in (caller.get(AZP), caller.get(f"{AZP}/{azp['id']}"),
                     caller.post(AZP, json={"availability_zone_profile": {
                         "name": "p", "provider_name": "amphora",
                         "availability_zone_data": "{}"}}),
                     caller.delete(f"{AZP}/{azp['id']}"),
                     caller.put(f"{AZ}/edge", json={"availability_zone": {"enabled": False}}),
                     caller.delete(f"{AZ}/edge"),
                     caller.get(f"{API}/providers/amphora/availability_zone_capabilities")):
            assert fault(call, 403) == POLICY, (token, call.request.url)
