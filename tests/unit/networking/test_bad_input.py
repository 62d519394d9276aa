"""Bad input: each a clear 4xx in Neutron's format, never a 500, and nothing half-created.

Status codes and error types are Neutron's (neutron-lib's exception classes:
``BadRequest`` 400, ``NotAuthorized`` 403, ``NotFound`` 404, ``Conflict`` and
``InUse`` 409). After each refusal the collections are listed again and must
be unchanged.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from networking_testing import Cloud, error, ok

CENTRAL = "CentralRegion"
COLLECTIONS = ("networks", "subnets", "ports", "security-groups", "security-group-rules")

Body = dict[str, Any]


def snapshot(cloud: Cloud, region: str = CENTRAL) -> dict[str, list[str]]:
    """Every resource id of every project, as admin sees them."""
    client = cloud.client(region)
    return {c: sorted(r["id"] for r in ok(client.get(f"/v2.0/{c}"))[c.replace("-", "_")])
            for c in COLLECTIONS}


def refused(cloud: Cloud, resp: httpx.Response, status: int, before: dict[str, list[str]],
            kind: str | None = None, region: str = CENTRAL) -> dict[str, str]:
    """The response is Neutron's error ``status`` (of type ``kind``) and nothing changed."""
    err = error(resp, status)
    assert set(err) == {"type", "message", "detail"}, err
    assert err["message"], err
    if kind is not None:
        assert err["type"] == kind, err
    assert snapshot(cloud, region) == before
    return err


def net(cloud: Cloud, token: str = "admin-token", **attrs: Any) -> Body:
    body = {"name": "n", **attrs}
    result: Body = ok(cloud.client(CENTRAL, token).post(
        "/v2.0/networks", json={"network": body}), 201)["network"]
    return result


def subnet(cloud: Cloud, network_id: str, cidr: str, token: str = "admin-token",
           **attrs: Any) -> Body:
    version = 6 if ":" in cidr else 4
    result: Body = ok(cloud.client(CENTRAL, token).post("/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": cidr, "ip_version": version, **attrs}}),
        201)["subnet"]
    return result


def port(cloud: Cloud, network_id: str, token: str = "admin-token", **attrs: Any) -> Body:
    result: Body = ok(cloud.client(CENTRAL, token).post("/v2.0/ports", json={"port": {
        "network_id": network_id, **attrs}}), 201)["port"]
    return result


# -- the request itself -------------------------------------------------------------

def test_malformed_json_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for raw in (b"{bad json", b'{"network": {"name": "x",}}', b"\xff\xfe", b""):
        with subtests.test(raw=raw):
            resp = cloud.client(CENTRAL).post("/v2.0/networks", content=raw,
                                              headers={"Content-Type": "application/json"})
            err = refused(cloud, resp, 400, before)
            if raw:
                assert "Malformed request body" in err["message"]


def test_body_that_is_not_a_resource_object_is_400(cloud: Cloud,
                                                   subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for body in ([], ["network"], "network", 42, None, True, {}, {"networks": {"name": "x"}},
                 {"network": None}, {"network": []}, {"network": "x"},
                 {"network": {"name": "x"}, "subnet": {}}):
        with subtests.test(body=body):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json=body), 400,
                    before)


def test_missing_required_attribute_is_400(cloud: Cloud) -> None:
    before = snapshot(cloud)
    err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/subnets", json={"subnet": {
        "ip_version": 4}}), 400, before)
    assert "network_id" in err["message"]
    assert "cidr" in err["message"]


def test_network_attribute_of_wrong_type_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for attr, value in [
        ("admin_state_up", "maybe"),
        ("admin_state_up", [True]),
        ("shared", {"x": 1}),
        ("name", 123),
        ("name", ["a"]),
        ("name", "x" * 256),
        ("description", "d" * 256),
        ("availability_zone_hints", "az1"),
        ("mtu", "big"),
        ("mtu", 10),
        ("tags", [""]),
        ("provider:segmentation_id", "one"),
        ("provider:network_type", "gre"),
    ]:
        with subtests.test(attr=attr, value=value):
            err = refused(cloud, cloud.client(CENTRAL).post(
                "/v2.0/networks", json={"network": {"name": "ok", attr: value}}), 400, before)
            assert attr in err["message"], err


def test_name_of_255_characters_is_accepted(cloud: Cloud) -> None:
    assert net(cloud, name="x" * 255)["name"] == "x" * 255


def test_subnet_attribute_of_wrong_type_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    network = net(cloud)
    before = snapshot(cloud)
    for attr, value in [
        ("ip_version", 5),
        ("ip_version", "four"),
        ("enable_dhcp", "maybe"),
        ("allocation_pools", [{"start": "10.0.0.2"}]),
        ("allocation_pools", {"start": "10.0.0.2", "end": "10.0.0.9"}),
        ("host_routes", [{"destination": "10.1.0.0/24"}]),
        ("dns_nameservers", "8.8.8.8"),
        ("ipv6_ra_mode", "magic"),
        ("cidr", 10),
    ]:
        with subtests.test(attr=attr, value=value):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/subnets", json={"subnet": {
                "network_id": network["id"], "cidr": "10.0.0.0/24", "ip_version": 4, attr: value}}),
                400, before)


def test_unknown_attribute_is_unrecognized(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for collection, member in [
        ("networks", "network"), ("subnets", "subnet"), ("ports", "port"),
        ("security-groups", "security_group"),
        ("security-group-rules", "security_group_rule"),
    ]:
        with subtests.test(collection=collection):
            resp = cloud.client(CENTRAL).post(f"/v2.0/{collection}",
                                              json={member: {"bogus_attr": 1}})
            err = refused(cloud, resp, 400, before)
            assert "Unrecognized attribute(s) 'bogus_attr'" in err["message"]


def test_unknown_attribute_in_update_is_unrecognized(cloud: Cloud) -> None:
    network = net(cloud)
    err = error(cloud.client(CENTRAL).put(f"/v2.0/networks/{network['id']}", json={
        "network": {"name": "renamed", "bogus_attr": 1}}), 400)
    assert "Unrecognized attribute(s) 'bogus_attr'" in err["message"]
    # Create-only attributes are not updatable either.
    error(cloud.client(CENTRAL).put(f"/v2.0/networks/{network['id']}", json={
        "network": {"provider:network_type": "vlan"}}), 400)
    error(cloud.client(CENTRAL).put(f"/v2.0/networks/{network['id']}", json={
        "network": {"availability_zone_hints": ["az1"]}}), 400)
    shown = ok(cloud.client(CENTRAL).get(f"/v2.0/networks/{network['id']}"))["network"]
    assert shown["name"] == "n"
    assert shown["revision_number"] == network["revision_number"]


def test_unknown_resource_id_is_404_in_neutron_format(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    missing = "6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000"
    for collection, kind in (("networks", "NetworkNotFound"), ("subnets", "SubnetNotFound"),
                             ("ports", "PortNotFound"),
                             ("security-groups", "SecurityGroupNotFound"),
                             ("security-group-rules", "SecurityGroupRuleNotFound")):
        assert error(client.get(f"/v2.0/{collection}/{missing}"), 404)["type"] == kind
        assert error(client.delete(f"/v2.0/{collection}/{missing}"), 404)["type"] == kind
    err = error(client.get("/v2.0/no-such-things"), 404)
    assert err["type"] == "HTTPNotFound"


# -- subnets ------------------------------------------------------------------------

def test_bad_cidr_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    network = net(cloud)
    before = snapshot(cloud)
    for cidr, version, words in [
        ("banana", 4, "not a valid IP subnet"),
        ("10.0.0.0/33", 4, "not a valid IP subnet"),
        ("10.0.0.256/24", 4, "not a valid IP subnet"),
        ("10.0.0.0/24", 6, "does not match ip_version"),
        ("2001:db8::/64", 4, "does not match ip_version"),
        ("10.0.0.5/24", 4, "'10.0.0.0/24' is recommended"),
        ("2001:db8::1/64", 6, "'2001:db8::/64' is recommended"),
    ]:
        with subtests.test(cidr=cidr, version=version):
            err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/subnets", json={"subnet": {
                "network_id": network["id"], "cidr": cidr, "ip_version": version}}), 400, before,
                "InvalidInput")
            assert words in err["message"]


def test_overlapping_cidr_in_one_network_is_400(cloud: Cloud) -> None:
    network = net(cloud)
    subnet(cloud, network["id"], "10.0.0.0/24")
    before = snapshot(cloud)
    client = cloud.client(CENTRAL)
    for cidr in ("10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/16"):
        err = refused(cloud, client.post("/v2.0/subnets", json={"subnet": {
            "network_id": network["id"], "cidr": cidr, "ip_version": 4}}), 400, before,
            "InvalidInput")
        assert "overlaps with another subnet" in err["message"]
    # The same CIDR on another network is fine.
    other = net(cloud, name="other")
    assert subnet(cloud, other["id"], "10.0.0.0/24")["cidr"] == "10.0.0.0/24"


def test_bad_gateway_pools_and_options_are_refused(cloud: Cloud, subtests: pytest.Subtests) -> None:
    network = net(cloud)
    before = snapshot(cloud)
    for attrs, status, kind in [
        ({"gateway_ip": "10.9.9.1"}, 400, "InvalidInput"),
        ({"gateway_ip": "10.0.0.0"}, 400, "InvalidInput"),
        ({"gateway_ip": "10.0.0.255"}, 400, "InvalidInput"),
        ({"gateway_ip": "not-an-ip"}, 400, "InvalidInput"),
        ({"gateway_ip": "2001:db8::1"}, 400, "InvalidInput"),
        ({"allocation_pools": [{"start": "10.0.1.10", "end": "10.0.1.20"}]}, 400,
         "OutOfBoundsAllocationPool"),
        ({"allocation_pools": [{"start": "10.0.0.200", "end": "10.0.0.255"}]}, 400,
         "OutOfBoundsAllocationPool"),
        ({"allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.10"}]}, 400,
         "InvalidAllocationPool"),
        ({"allocation_pools": [{"start": "10.0.0.x", "end": "10.0.0.10"}]}, 400, "InvalidInput"),
        ({"allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"},
                               {"start": "10.0.0.15", "end": "10.0.0.30"}]}, 409,
         "OverlappingAllocationPools"),
        ({"gateway_ip": "10.0.0.15",
          "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]}, 409,
         "GatewayConflictWithAllocationPools"),
        ({"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.20"}]}, 409,
         "GatewayConflictWithAllocationPools"),
        ({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, 400, "InvalidInput"),
        ({"dns_nameservers": ["2001:db8::53"]}, 400, "InvalidInput"),
        ({"dns_nameservers": ["dns.example.com"]}, 400, "InvalidInput"),
        ({"host_routes": [{"destination": "nowhere", "nexthop": "10.0.0.1"}]}, 400,
         "InvalidInput"),
        ({"host_routes": [{"destination": "10.1.0.0/24", "nexthop": "2001:db8::1"}]}, 400,
         "InvalidInput"),
        ({"ipv6_ra_mode": "slaac"}, 400, "InvalidInput"),
    ]:
        with subtests.test(attrs=attrs):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/subnets", json={"subnet": {
                "network_id": network["id"], "cidr": "10.0.0.0/24", "ip_version": 4, **attrs}}),
                status, before, kind)


def test_bad_subnet_update_changes_nothing(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    client = cloud.client(CENTRAL)
    error(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {
        "allocation_pools": [{"start": "10.0.9.1", "end": "10.0.9.9"}]}}), 400)
    error(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {
        "gateway_ip": "10.0.0.5", "allocation_pools": [
            {"start": "10.0.0.2", "end": "10.0.0.50"}]}}), 409)
    error(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"cidr": "10.0.0.0/16"}}),
          400)
    error(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"name": "x",
                                                                      "ip_version": 6}}), 400)
    assert ok(client.get(f"/v2.0/subnets/{sub['id']}"))["subnet"] == sub


def test_subnet_on_unknown_network_is_404(cloud: Cloud) -> None:
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/subnets", json={"subnet": {
        "network_id": "6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000", "cidr": "10.0.0.0/24",
        "ip_version": 4}}), 404, before, "NetworkNotFound")


# -- addresses ----------------------------------------------------------------------

def test_exhausted_pool_is_409_ip_address_generation_failure(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/29")
    # .0 network, .1 gateway, .7 broadcast: five addresses for ports.
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.6"}]
    given = [port(cloud, network["id"])["fixed_ips"][0]["ip_address"] for _ in range(5)]
    assert given == [f"10.0.0.{i}" for i in range(2, 7)]
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
        "network_id": network["id"]}}), 409, before, "IpAddressGenerationFailure")
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
        "network_id": network["id"], "fixed_ips": [{"subnet_id": sub["id"]}]}}), 409,
        before, "IpAddressGenerationFailure")


def test_requested_ip_errors(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    port(cloud, network["id"], fixed_ips=[{"ip_address": "10.0.0.10"}])
    client = cloud.client(CENTRAL)
    before = snapshot(cloud)

    def create(fixed_ips: list[Body]) -> httpx.Response:
        return client.post("/v2.0/ports", json={"port": {"network_id": network["id"],
                                                          "fixed_ips": fixed_ips}})

    err = refused(cloud, create([{"subnet_id": sub["id"], "ip_address": "10.0.0.10"}]), 409,
                  before, "IpAddressAlreadyAllocated")
    assert "10.0.0.10" in err["message"]
    refused(cloud, create([{"ip_address": "10.0.0.10"}]), 409, before,
            "IpAddressAlreadyAllocated")
    refused(cloud, create([{"subnet_id": sub["id"], "ip_address": "10.0.1.10"}]), 400,
            before, "InvalidIpForSubnet")
    refused(cloud, create([{"subnet_id": sub["id"], "ip_address": "10.0.0.255"}]), 400,
            before, "InvalidIpForSubnet")
    refused(cloud, create([{"ip_address": "192.168.1.1"}]), 400, before, "InvalidIpForNetwork")
    refused(cloud, create([{"ip_address": "not-an-ip"}]), 400, before, "InvalidInput")
    # Neutron looks the subnet up first: one that does not exist is not found.
    refused(cloud, create([{"subnet_id": "6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000"}]), 404,
            before, "SubnetNotFound")
    # The same address twice in one request.
    refused(cloud, create([{"ip_address": "10.0.0.20"}, {"ip_address": "10.0.0.20"}]), 409,
            before, "IpAddressAlreadyAllocated")


def test_port_update_to_a_taken_address_keeps_the_old_one(cloud: Cloud) -> None:
    network = net(cloud)
    subnet(cloud, network["id"], "10.0.0.0/24")
    first = port(cloud, network["id"])
    second = port(cloud, network["id"])
    taken = first["fixed_ips"][0]["ip_address"]
    client = cloud.client(CENTRAL)
    error(client.put(f"/v2.0/ports/{second['id']}", json={"port": {
        "fixed_ips": [{"ip_address": taken}]}}), 409)
    shown = ok(client.get(f"/v2.0/ports/{second['id']}"))["port"]
    assert shown["fixed_ips"] == second["fixed_ips"]


def test_bad_mac_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    network = net(cloud)
    before = snapshot(cloud)
    for mac in ["not-a-mac", "fa:16:3e:00:00", "fa:16:3e:00:00:0g", "01:00:5e:00:00:01",
                "00:00:00:00:00:00", "fa:16:3e:00:00:00:00"]:
        with subtests.test(mac=mac):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
                "network_id": network["id"], "mac_address": mac}}), 400, before, "InvalidInput")


def test_duplicate_mac_on_a_network_is_409(cloud: Cloud) -> None:
    network = net(cloud)
    port(cloud, network["id"], mac_address="fa:16:3e:11:22:33")
    before = snapshot(cloud)
    err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
        "network_id": network["id"], "mac_address": "FA:16:3E:11:22:33"}}), 409, before,
        "MacAddressInUse")
    assert "fa:16:3e:11:22:33" in err["message"]
    # Another network may use the same MAC.
    other = net(cloud, name="other")
    assert port(cloud, other["id"], mac_address="fa:16:3e:11:22:33")["mac_address"] == \
        "fa:16:3e:11:22:33"


def test_port_on_unknown_network_is_404(cloud: Cloud) -> None:
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
        "network_id": "6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000"}}), 404, before,
        "NetworkNotFound")


def test_bad_allowed_address_pairs_are_400(cloud: Cloud) -> None:
    network = net(cloud)
    before = snapshot(cloud)
    for pairs in ([{"ip_address": "nope"}], [{"ip_address": "10.0.0.9", "mac_address": "x"}],
                  [{"ip_address": "10.0.0.9"}, {"ip_address": "10.0.0.9"}],
                  [{"mac_address": "fa:16:3e:11:22:33"}]):
        refused(cloud, cloud.client(CENTRAL).post("/v2.0/ports", json={"port": {
            "network_id": network["id"], "allowed_address_pairs": pairs}}), 400, before)


# -- segments -----------------------------------------------------------------------

def test_out_of_range_vlan_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for vlan in [0, 4095, -1, 70000]:
        with subtests.test(vlan=vlan):
            err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
                "provider:network_type": "vlan", "provider:physical_network": "physnet1",
                "provider:segmentation_id": vlan}}), 400, before, "InvalidInput")
            assert "1 through 4094" in err["message"]


def test_vlan_in_use_is_409(cloud: Cloud) -> None:
    net(cloud, **{"provider:network_type": "vlan", "provider:physical_network": "physnet1",
                  "provider:segmentation_id": 42})
    before = snapshot(cloud)
    err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 42}}), 409, before, "VlanIdInUse")
    assert "42" in err["message"]


def test_vlan_range_exhaustion_is_503_no_network_available(cloud: Cloud) -> None:
    vlan = {"provider:network_type": "vlan"}
    assert [net(cloud, **vlan)["provider:segmentation_id"] for _ in range(2)] == [100, 101]
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": vlan}), 503,
            before, "NoNetworkAvailable")


def test_vni_in_use_is_409_and_out_of_range_is_400(cloud: Cloud) -> None:
    first = net(cloud)
    assert first["provider:segmentation_id"] == 1001
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": 1001}}), 409, before,
        "TunnelIdInUse")
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
        "provider:network_type": "vxlan", "provider:segmentation_id": 2**24}}), 400, before)


def test_vni_exhaustion_falls_back_to_the_next_tenant_network_type(cloud: Cloud) -> None:
    # vni_ranges = 1001:1003; tenant_network_types = vxlan, local, vlan, flat.
    made = [net(cloud, token="demo-token", name=f"n{i}") for i in range(4)]
    assert [n["provider:network_type"] for n in made] == ["vxlan"] * 3 + ["local"]
    assert [n["provider:segmentation_id"] for n in made] == [1001, 1002, 1003, None]
    assert made[3]["provider:physical_network"] is None
    # A VNI comes back when its network is deleted.
    ok(cloud.client(CENTRAL).delete(f"/v2.0/networks/{made[1]['id']}"), 204)
    again = net(cloud, token="demo-token", name="again")
    assert (again["provider:network_type"], again["provider:segmentation_id"]) == \
        ("vxlan", 1002)


def test_bad_provider_attributes_are_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for attrs in [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet9"},
        {"provider:network_type": "vlan", "provider:physical_network": "physnet9",
         "provider:segmentation_id": 100},
        {"provider:network_type": "flat", "provider:physical_network": "physnet9"},
        {"provider:network_type": "vxlan", "provider:physical_network": "physnet1"},
        {"provider:network_type": "flat", "provider:segmentation_id": 5},
        {"provider:network_type": "local", "provider:segmentation_id": 5},
        {"provider:network_type": "vlan", "provider:segmentation_id": 100},
        {"provider:segmentation_id": 100},
        {"provider:physical_network": "physnet1"},
    ]:
        with subtests.test(attrs=attrs):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": attrs}),
                    400, before, "InvalidInput")


def test_second_flat_network_on_a_physnet_is_409(cloud: Cloud) -> None:
    net(cloud, **{"provider:network_type": "flat"})
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
        "provider:network_type": "flat", "provider:physical_network": "physnet1"}}), 409,
        before, "FlatNetworkInUse")


def test_unknown_availability_zone_hint_is_404(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for hints in [["az9"], ["az1", "nowhere"], ["CentralRegion"], [""]]:
        with subtests.test(hints=hints):
            err = refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
                "availability_zone_hints": hints}}), 404, before, "AvailabilityZoneNotFound")
            assert "could not be found" in err["message"]


def test_local_network_hinted_at_two_regions_is_400(cloud: Cloud,
                                                    subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for hints in (["az1", "az2"], ["RegionOne", "RegionTwo"], ["RegionOne", "az2"]):
        with subtests.test(hints=hints):
            refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
                "provider:network_type": "local", "availability_zone_hints": hints}}), 400,
                before, "InvalidInput")
    # One region, named twice (by region and by zone), is one region.
    made = net(cloud, **{"provider:network_type": "local",
                         "availability_zone_hints": ["RegionOne", "az1"]})
    assert made["availability_zone_hints"] == ["RegionOne", "az1"]


def test_mtu_above_the_segment_mtu_is_400(cloud: Cloud) -> None:
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).post("/v2.0/networks", json={"network": {
        "mtu": 1500}}), 400, before, "InvalidInput")  # vxlan: at most 1450


# -- security groups ----------------------------------------------------------------

def test_second_default_security_group_is_409(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    ok(client.get("/v2.0/security-groups"))  # creates demo's default group
    before = snapshot(cloud)
    refused(cloud, client.post("/v2.0/security-groups", json={"security_group": {
        "name": "default"}}), 409, before, "SecurityGroupDefaultAlreadyExists")
    # Even when it is the project's very first call.
    alt = cloud.client(CENTRAL, "alt-token")
    resp = alt.post("/v2.0/security-groups", json={"security_group": {"name": "default"}})
    error(resp, 409)
    groups = ok(alt.get("/v2.0/security-groups"))["security_groups"]
    assert [g["name"] for g in groups] == ["default"]


def test_default_security_group_cannot_be_renamed(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    default = ok(client.get("/v2.0/security-groups"))["security_groups"][0]
    err = error(client.put(f"/v2.0/security-groups/{default['id']}", json={
        "security_group": {"name": "other"}}), 409)
    assert err["type"] == "SecurityGroupCannotUpdateDefault"
    err = error(client.delete(f"/v2.0/security-groups/{default['id']}"), 409)
    assert err["type"] == "SecurityGroupCannotRemoveDefault"


def _group(cloud: Cloud) -> Body:
    result: Body = ok(cloud.client(CENTRAL, "demo-token").post("/v2.0/security-groups", json={
        "security_group": {"name": "web"}}), 201)["security_group"]
    return result


def test_duplicate_security_group_rule_is_409(cloud: Cloud) -> None:
    sg = _group(cloud)
    client = cloud.client(CENTRAL, "demo-token")
    rule = {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 80, "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}
    made = ok(client.post("/v2.0/security-group-rules", json={"security_group_rule": rule}),
              201)["security_group_rule"]
    before = snapshot(cloud)
    err = refused(cloud, client.post("/v2.0/security-group-rules",
                                     json={"security_group_rule": rule}), 409, before,
                  "SecurityGroupRuleExists")
    assert made["id"] in err["message"]
    # The group's own egress rules are duplicates too.
    refused(cloud, client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "egress", "ethertype": "IPv6"}}), 409,
        before, "SecurityGroupRuleExists")


def test_bad_security_group_rule_is_400(cloud: Cloud, subtests: pytest.Subtests) -> None:
    sg = _group(cloud)
    before = snapshot(cloud)
    for rule, words in [
        ({"protocol": "bogus"}, "protocol bogus not supported"),
        ({"protocol": 256}, "not supported"),
        ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
         "port_range_min must be <= port_range_max"),
        ({"port_range_min": 80, "port_range_max": 80}, "Must also specify protocol"),
        ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 80}, "Invalid value for port"),
        ({"protocol": "tcp", "port_range_min": 80, "port_range_max": 65536},
         "Invalid value for port"),
        ({"protocol": "icmp", "port_range_min": 256}, "ICMP"),
        ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, "not supported"),
        ({"ethertype": "IPv4", "remote_ip_prefix": "2001:db8::/64"}, "Conflicting value ethertype"),
        ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, "Conflicting value ethertype"),
        ({"remote_ip_prefix": "10.0.0.0/99"}, "not a valid IP prefix"),
    ]:
        with subtests.test(rule=rule):
            err = refused(cloud, cloud.client(CENTRAL, "demo-token").post(
                "/v2.0/security-group-rules", json={"security_group_rule": {
                    "security_group_id": sg["id"], "direction": "ingress", **rule}}), 400, before)
            assert words in err["message"], err


def test_bad_security_group_rule_has_neutrons_error_type(cloud: Cloud) -> None:
    sg = _group(cloud)
    cases: list[tuple[Body, str]] = [
        ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
        ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
         "SecurityGroupInvalidPortRange"),
        ({"port_range_min": 80, "port_range_max": 80},
         "SecurityGroupProtocolRequiredWithPorts"),
        ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
         "SecurityGroupRuleParameterConflict"),
    ]
    got = [error(cloud.client(CENTRAL, "demo-token").post(
        "/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress", **rule}}), 400)["type"]
        for rule, _ in cases]
    assert got == [kind for _, kind in cases]


def test_rule_on_unknown_or_foreign_group_is_404(cloud: Cloud) -> None:
    sg = _group(cloud)
    before = snapshot(cloud)
    for group_id in ("6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000", sg["id"]):
        refused(cloud, cloud.client(CENTRAL, "alt-token").post(
            "/v2.0/security-group-rules", json={"security_group_rule": {
                "security_group_id": group_id, "direction": "ingress"}}), 404, before,
            "SecurityGroupNotFound")
    refused(cloud, cloud.client(CENTRAL, "demo-token").post(
        "/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": sg["id"], "direction": "ingress",
            "remote_group_id": "6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000"}}), 404, before)


def test_deleting_an_in_use_security_group_is_409(cloud: Cloud) -> None:
    sg = _group(cloud)
    network = net(cloud, token="demo-token")
    port(cloud, network["id"], token="demo-token", security_groups=[sg["id"]])
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL, "demo-token").delete(
        f"/v2.0/security-groups/{sg['id']}"), 409, before, "SecurityGroupInUse")


def test_port_with_unknown_security_group_is_404(cloud: Cloud) -> None:
    network = net(cloud, token="demo-token")
    foreign = ok(cloud.client(CENTRAL, "alt-token").post("/v2.0/security-groups", json={
        "security_group": {"name": "alts"}}), 201)["security_group"]
    before = snapshot(cloud)
    for sg_id in ("6c9d6a56-5a07-4f7c-9b4a-0b8a1c1c0000", foreign["id"]):
        refused(cloud, cloud.client(CENTRAL, "demo-token").post("/v2.0/ports", json={"port": {
            "network_id": network["id"], "security_groups": [sg_id]}}), 404, before,
            "SecurityGroupNotFound")


# -- in use -------------------------------------------------------------------------

def test_deleting_a_subnet_or_network_with_ports_is_409(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    p = port(cloud, network["id"])
    client = cloud.client(CENTRAL)
    before = snapshot(cloud)
    err = refused(cloud, client.delete(f"/v2.0/subnets/{sub['id']}"), 409, before,
                  "SubnetInUse")
    assert sub["id"] in err["message"]
    err = refused(cloud, client.delete(f"/v2.0/networks/{network['id']}"), 409, before,
                  "NetworkInUse")
    assert network["id"] in err["message"]
    # Without the port both go.
    ok(client.delete(f"/v2.0/ports/{p['id']}"), 204)
    ok(client.delete(f"/v2.0/subnets/{sub['id']}"), 204)
    ok(client.delete(f"/v2.0/networks/{network['id']}"), 204)


def test_network_with_a_port_but_no_subnet_is_in_use(cloud: Cloud) -> None:
    network = net(cloud)
    port(cloud, network["id"])
    before = snapshot(cloud)
    refused(cloud, cloud.client(CENTRAL).delete(f"/v2.0/networks/{network['id']}"), 409,
            before, "NetworkInUse")


# -- policy -------------------------------------------------------------------------

def test_member_setting_admin_only_network_attributes_is_403(cloud: Cloud,
                                                             subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    for attrs in [
        {"provider:network_type": "vxlan"},
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1"},
        {"provider:segmentation_id": 1002},
        {"provider:physical_network": "physnet1"},
        {"shared": True},
        {"project_id": "alt-project"},
        {"tenant_id": "alt-project"},
    ]:
        with subtests.test(attrs=attrs):
            err = refused(cloud, cloud.client(CENTRAL, "demo-token").post(
                "/v2.0/networks", json={"network": attrs}), 403, before, "PolicyNotAuthorized")
            assert "disallowed by policy" in err["message"]


def test_member_may_say_shared_false(cloud: Cloud) -> None:
    assert net(cloud, token="demo-token", shared=False)["shared"] is False


def test_member_setting_admin_only_port_attributes_is_403(cloud: Cloud) -> None:
    network = net(cloud, token="demo-token")
    p = port(cloud, network["id"], token="demo-token")
    client = cloud.client(CENTRAL, "demo-token")
    before = snapshot(cloud)
    for attrs in ({"binding:host_id": "host-a"}, {"binding:profile": {"a": 1}},
                  {"device_owner": "network:dhcp"}):
        refused(cloud, client.post("/v2.0/ports", json={"port": {
            "network_id": network["id"], **attrs}}), 403, before, "PolicyNotAuthorized")
        error(client.put(f"/v2.0/ports/{p['id']}", json={"port": attrs}), 403)
    err = error(client.put(f"/v2.0/networks/{network['id']}", json={
        "network": {"shared": True}}), 403)
    assert err["type"] == "PolicyNotAuthorized"
    assert ok(client.get(f"/v2.0/ports/{p['id']}"))["port"] == p


def test_reader_cannot_write_anything(cloud: Cloud) -> None:
    network = net(cloud, token="demo-token")
    sub = subnet(cloud, network["id"], "10.0.0.0/24", token="demo-token")
    p = port(cloud, network["id"], token="demo-token")
    reader = cloud.client(CENTRAL, "reader-token")
    # It reads what its project has …
    assert ok(reader.get(f"/v2.0/networks/{network['id']}"))["network"]["id"] == network["id"]
    sg_id = p["security_groups"][0]
    before = snapshot(cloud)
    attempts = [
        reader.post("/v2.0/networks", json={"network": {"name": "r"}}),
        reader.post("/v2.0/subnets", json={"subnet": {"network_id": network["id"],
                                                      "cidr": "10.1.0.0/24",
                                                      "ip_version": 4}}),
        reader.post("/v2.0/ports", json={"port": {"network_id": network["id"]}}),
        reader.post("/v2.0/security-groups", json={"security_group": {"name": "r"}}),
        reader.post("/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": sg_id, "direction": "ingress", "protocol": "icmp"}}),
        reader.put(f"/v2.0/networks/{network['id']}", json={"network": {"name": "r"}}),
        reader.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"name": "r"}}),
        reader.put(f"/v2.0/ports/{p['id']}", json={"port": {"name": "r"}}),
        reader.put(f"/v2.0/security-groups/{sg_id}", json={"security_group": {
            "description": "r"}}),
        reader.put(f"/v2.0/networks/{network['id']}/tags", json={"tags": ["r"]}),
        reader.put(f"/v2.0/networks/{network['id']}/tags/r"),
        reader.delete(f"/v2.0/networks/{network['id']}/tags"),
        reader.delete(f"/v2.0/ports/{p['id']}"),
        reader.delete(f"/v2.0/subnets/{sub['id']}"),
        reader.delete(f"/v2.0/networks/{network['id']}"),
        reader.delete(f"/v2.0/security-groups/{sg_id}"),
        reader.put("/v2.0/quotas/demo-project", json={"quota": {"network": 1}}),
    ]
    for resp in attempts:
        refused(cloud, resp, 403, before, "PolicyNotAuthorized")
    shown = ok(reader.get(f"/v2.0/networks/{network['id']}"))["network"]
    assert (shown["name"], shown["tags"]) == ("n", [])


def test_readers_first_look_creates_no_default_group(cloud: Cloud) -> None:
    before = snapshot(cloud)
    groups = ok(cloud.client(CENTRAL, "reader-token").get("/v2.0/security-groups"))
    assert groups == {"security_groups": []}
    assert snapshot(cloud) == before


def test_missing_or_bad_token_is_401(cloud: Cloud, subtests: pytest.Subtests) -> None:
    before = snapshot(cloud)
    anon = httpx.Client(transport=cloud.router, base_url="http://central.test")
    for headers in [{}, {"X-Auth-Token": ""}, {"X-Auth-Token": "no-such-token"}]:
        with subtests.test(headers=headers):
            for method, path, body in (("GET", "/v2.0/networks", None),
                                       ("POST", "/v2.0/networks", {"network": {"name": "x"}}),
                                       ("GET", "/v2.0/extensions", None),
                                       ("GET", "/v2.0/quotas/demo-project", None)):
                resp = anon.request(method, path, json=body, headers=headers)
                refused(cloud, resp, 401, before)


def test_member_cannot_update_quotas(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    error(client.put("/v2.0/quotas/demo-project", json={"quota": {"network": 1000}}), 403)
    error(client.get("/v2.0/quotas/alt-project"), 403)
    admin = cloud.client(CENTRAL)
    error(admin.put("/v2.0/quotas/demo-project", json={"quota": {"network": -5}}), 400)
    error(admin.put("/v2.0/quotas/demo-project", json={"quota": {"nets": 5}}), 400)
    error(admin.put("/v2.0/quotas/demo-project", json={"quota": {"network": "many"}}), 400)
    assert ok(admin.get("/v2.0/quotas/demo-project"))["quota"]["network"] == 100


# -- the same through a region --------------------------------------------------------

def _same_through_region(cloud: Cloud, method: str, path: str, status: int,
                         **kwargs: Any) -> dict[str, str]:
    """The region answers as central does; neither region nor central changed anything."""
    central_before = snapshot(cloud)
    region_before = snapshot(cloud, "RegionOne")
    via_region = error(cloud.client("RegionOne").request(method, path, **kwargs), status)
    assert snapshot(cloud, "RegionOne") == region_before
    assert snapshot(cloud) == central_before
    return via_region


def test_errors_through_a_region_are_centrals(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    taken = port(cloud, network["id"])["fixed_ips"][0]["ip_address"]
    # The region mirrors what it is asked about (a read, not a creation): let it first.
    ok(cloud.client("RegionOne").get(f"/v2.0/networks/{network['id']}"))
    cases: list[tuple[str, str, int, Body]] = [
        ("POST", "/v2.0/subnets", 400, {"json": {"subnet": {
            "network_id": network["id"], "cidr": "10.0.0.128/25", "ip_version": 4}}}),
        ("POST", "/v2.0/subnets", 400, {"json": {"subnet": {
            "network_id": network["id"], "cidr": "10.0.5.5/24", "ip_version": 4}}}),
        ("POST", "/v2.0/ports", 409, {"json": {"port": {
            "network_id": network["id"], "fixed_ips": [{"ip_address": taken}]}}}),
        ("POST", "/v2.0/ports", 400, {"json": {"port": {
            "network_id": network["id"], "mac_address": "nope"}}}),
        ("POST", "/v2.0/networks", 404, {"json": {"network": {
            "availability_zone_hints": ["az9"]}}}),
        ("POST", "/v2.0/networks", 400, {"json": {"network": {
            "provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 4095}}}),
        ("DELETE", f"/v2.0/subnets/{sub['id']}", 409, {}),
        ("DELETE", f"/v2.0/networks/{network['id']}", 409, {}),
    ]
    for method, path, status, kwargs in cases:
        via_region = _same_through_region(cloud, method, path, status, **kwargs)
        at_central = error(cloud.client(CENTRAL).request(method, path, **kwargs), status)
        assert via_region == at_central, (path, kwargs)


def test_request_errors_in_a_region_are_neutrons(cloud: Cloud) -> None:
    before = snapshot(cloud)
    _same_through_region(cloud, "POST", "/v2.0/networks", 400, content=b"{bad",
                         headers={"Content-Type": "application/json"})
    err = _same_through_region(cloud, "POST", "/v2.0/networks", 400,
                               json={"network": {"bogus_attr": 1}})
    assert "Unrecognized attribute(s) 'bogus_attr'" in err["message"]
    _same_through_region(cloud, "POST", "/v2.0/networks", 400,
                         json={"network": {"admin_state_up": "maybe"}})
    region = cloud.client("RegionOne", "demo-token")
    err = error(region.post("/v2.0/networks", json={"network": {"shared": True}}), 403)
    assert err["type"] == "PolicyNotAuthorized"
    error(cloud.client("RegionOne", "reader-token").post(
        "/v2.0/networks", json={"network": {"name": "r"}}), 403)
    anon = httpx.Client(transport=cloud.router, base_url="http://r1.test")
    error(anon.get("/v2.0/networks"), 401)
    error(anon.get("/v2.0/networks", headers={"X-Auth-Token": "nope"}), 401)
    assert snapshot(cloud) == before


# -- found by the fuzz pass -------------------------------------------------------------

def test_null_in_an_update_is_400_unless_neutron_allows_it(cloud: Cloud) -> None:
    network = net(cloud, description="kept")
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    p = port(cloud, network["id"])
    client = cloud.client(CENTRAL)
    for path, member, attr in ((f"/v2.0/networks/{network['id']}", "network", "description"),
                               (f"/v2.0/networks/{network['id']}", "network", "name"),
                               (f"/v2.0/networks/{network['id']}", "network", "mtu"),
                               (f"/v2.0/subnets/{sub['id']}", "subnet", "enable_dhcp"),
                               (f"/v2.0/ports/{p['id']}", "port", "mac_address"),
                               (f"/v2.0/ports/{p['id']}", "port", "admin_state_up")):
        err = error(client.put(path, json={member: {attr: None}}), 400)
        assert f"'{attr}' may not be null" in err["message"]
    shown = ok(client.get(f"/v2.0/networks/{network['id']}"))["network"]
    assert (shown["description"], shown["revision_number"]) == \
        ("kept", network["revision_number"] + 1)  # +1: the subnet
    # null clears what Neutron lets clear that way.
    cleared = ok(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {
        "gateway_ip": None, "dns_nameservers": None}}))["subnet"]
    assert (cleared["gateway_ip"], cleared["dns_nameservers"]) == (None, [])
    cleared = ok(client.put(f"/v2.0/ports/{p['id']}", json={"port": {
        "security_groups": None, "allowed_address_pairs": None}}))["port"]
    assert (cleared["security_groups"], cleared["allowed_address_pairs"]) == ([], [])


def test_integers_beyond_the_database_are_400(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    network = net(cloud)
    sg = _group(cloud)
    before = snapshot(cloud)
    for resp in (client.put("/v2.0/quotas/demo-project", json={"quota": {"port": 2**63}}),
                 client.put("/v2.0/quotas/demo-project", json={"quota": {"port": 2**31}}),
                 client.put(f"/v2.0/networks/{network['id']}", json={"network": {
                     "mtu": 2**63}}),
                 client.post("/v2.0/networks", json={"network": {
                     "provider:network_type": "vxlan", "provider:segmentation_id": 2**63}}),
                 client.post("/v2.0/security-group-rules", json={"security_group_rule": {
                     "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
                     "port_range_min": 2**63, "port_range_max": 2**63}})):
        refused(cloud, resp, 400, before)
    assert ok(client.get("/v2.0/quotas/demo-project"))["quota"]["port"] == 500
    assert ok(client.put("/v2.0/quotas/demo-project", json={"quota": {
        "port": 2**31 - 1}}))["quota"]["port"] == 2**31 - 1
