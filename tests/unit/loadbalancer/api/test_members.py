"""Members through the real Octavia API of RegionOne, with subnets looked up
through RegionOne's real networking (the locality error of the spec included),
and the batch ``PUT`` that replaces a pool's members."""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok
from test_pools import Lb, active_lb

from tricircle_lb.loadbalancer.api._member_checks import check_lvs_family
from tricircle_lb.loadbalancer.errors import NotImplementedByProvider

Body = dict[str, Any]


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Lb:
    return active_lb(lb_cloud)


def members_of(lb: Lb, pool_id: str) -> list[Body]:
    result: list[Body] = ok(lb.api.get(f"/v2/lbaas/pools/{pool_id}/members"))["members"]
    return result


def test_create_show_update_delete(lb: Lb) -> None:
    pool = lb.pool(listener=True)
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    member = ok(lb.api.post(path, json={"member": {
        "address": "10.0.10.11", "protocol_port": 8080, "name": "backend1"}}), 201)["member"]
    assert member["provisioning_status"] == "PENDING_CREATE"
    assert member["operating_status"] == "NO_MONITOR"
    assert member["subnet_id"] == lb.subnet_id  # the VIP subnet by default
    assert (member["weight"], member["backup"], member["admin_state_up"]) == (1, False, True)
    assert member["monitor_address"] is None and member["monitor_port"] is None
    lb.settle()
    down = ok(lb.api.post(path, json={"member": {
        "address": "10.0.10.12", "protocol_port": 8080, "admin_state_up": False}}), 201)
    assert down["member"]["operating_status"] == "OFFLINE"
    lb.settle()
    updated = ok(lb.api.put(f"{path}/{member['id']}", json={"member": {
        "weight": 0, "backup": True, "monitor_address": "10.0.10.13",
        "monitor_port": 9000}}))["member"]
    assert updated["provisioning_status"] == "PENDING_UPDATE"
    assert (updated["weight"], updated["backup"]) == (0, True)
    assert (updated["monitor_address"], updated["monitor_port"]) == ("10.0.10.13", 9000)
    lb.settle()
    text = fault(lb.api.put(f"{path}/{member['id']}", json={"member": {
        "monitor_address": "10.0.10.300"}}), 400)
    assert "Value should be IPv4 or IPv6 format" in text
    assert "address" in fault(lb.api.put(f"{path}/{member['id']}", json={"member": {
        "address": "10.0.10.99"}}), 400)
    pool_after = ok(lb.api.get(f"/v2/lbaas/pools/{pool['id']}"))["pool"]
    assert len(pool_after["members"]) == 2
    assert lb.api.delete(f"{path}/{member['id']}").status_code == 204
    assert ok(lb.api.get(f"{path}/{member['id']}"))["member"][
        "provisioning_status"] == "PENDING_DELETE"
    lb.settle()
    assert fault(lb.api.get(f"{path}/{member['id']}"), 404) == \
        f"Member {member['id']} not found."
    assert [m["address"] for m in members_of(lb, pool["id"])] == ["10.0.10.12"]


def test_duplicate_address_and_port(lb: Lb) -> None:
    pool = lb.pool()
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    ok(lb.api.post(path, json={"member": {"address": "10.0.10.11", "protocol_port": 80}}), 201)
    lb.settle()
    text = fault(lb.api.post(path, json={"member": {"address": "10.0.10.11",
                                                    "protocol_port": 80}}), 409)
    assert text == ("Another member on this pool is already using ip 10.0.10.11 on "
                    "protocol_port 80")
    ok(lb.api.post(path, json={"member": {"address": "10.0.10.11", "protocol_port": 81}}), 201)
    assert len(members_of(lb, pool["id"])) == 2


BAD_MEMBERS: list[tuple[Body, str]] = [
    ({"address": "169.254.169.254"}, "169.254.169.254 is not a valid option for member "
     "address"),
    ({"address": "10.0.10.300"}, "Invalid input for field/attribute address. Value: "
     "'10.0.10.300'. Value should be IPv4 or IPv6 format"),
    ({"address": "backend1"}, "Value should be IPv4 or IPv6 format"),
    ({"protocol_port": 0}, "protocol_port"),
    ({"protocol_port": 65536}, "protocol_port"),
    ({"weight": 257}, "weight"),
    ({"weight": -1}, "weight"),
    ({"monitor_port": 0}, "monitor_port"),
    ({"name": "b1\nserver x 1.2.3.4:80"}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"request_sriov": True}, "The load balancer flavor does not allow SR-IOV member ports."),
    ({"colour": "blue"}, "colour"),
]


def test_bad_members_create_nothing(lb: Lb) -> None:
    pool = lb.pool()
    for attrs, words in BAD_MEMBERS:
        body = {"address": "10.0.10.11", "protocol_port": 80, **attrs}
        text = fault(lb.api.post(f"/v2/lbaas/pools/{pool['id']}/members",
                                 json={"member": body}), 400)
        assert words in text, (attrs, text)
    assert members_of(lb, pool["id"]) == []
    assert ok(lb.api.get(f"/v2/lbaas/loadbalancers/{lb.id}"))["loadbalancer"][
        "provisioning_status"] == "ACTIVE"


def test_addresses_octavia_takes(lb: Lb) -> None:
    """Octavia has no rule on a member's address family, nor on loopback, multicast or
    the VIP itself: only its reserved addresses (here also the management networks)."""
    pool = lb.pool()
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    for port, address in enumerate(("2001:db8:0:0:0:0:0:5", "127.0.0.1", lb.vip_address),
                                   start=80):
        member = ok(lb.api.post(path, json={"member": {
            "address": address, "protocol_port": port, "monitor_address": "2001:db8::1"}}),
            201)["member"]
        # Kept as given, as Octavia keeps it (not canonicalised to 2001:db8::5).
        assert (member["address"], member["monitor_address"]) == (address, "2001:db8::1")
        lb.settle()
    text = fault(lb.api.post(path, json={"member": {
        "address": "10.0.10.11", "protocol_port": 80,
        "subnet_id": "6f1d3a0e-0000-4000-8000-000000000000"}}), 404)
    assert text == "Subnet 6f1d3a0e-0000-4000-8000-000000000000 not found."


def test_udp_pools_mix_families(lb: Lb) -> None:
    """Octavia's amphora driver refuses an IPv6 member behind an IPv4 VIP in a UDP pool
    (501: LVS cannot translate); nginx, our UDP proxy, can, so both families are taken
    (decision 089)."""
    pool = lb.pool("UDP")
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    for port, address in ((53, "2001:db8::5"), (54, "10.0.10.5")):
        member = ok(lb.api.post(path, json={"member": {
            "address": address, "protocol_port": port}}), 201)["member"]
        assert member["address"] == address
        lb.settle()


def test_lvs_family_rule_stays_for_sctp() -> None:
    """SCTP pools keep the amphora driver's 501 for a member of no VIP's family."""
    with pytest.raises(NotImplementedByProvider) as raised:
        check_lvs_family("2001:db8::5", "SCTP", ["10.0.10.4"])
    assert "mixing IPv4 and IPv6 addresses for its VIP and members in SCTP" in str(
        raised.value)
    check_lvs_family("2001:db8::5", "SCTP", ["10.0.10.4", "2001:db8::4"])
    check_lvs_family("2001:db8::5", "UDP", ["10.0.10.4"])


def test_member_on_a_subnet_of_another_region(lb: Lb) -> None:
    """Fig. 2: a subnet whose network lives in RegionTwo is fine (it is stretched)."""
    net2 = lb.cloud.network("net2", availability_zone_hints=["RegionTwo"])
    subnet2 = lb.cloud.subnet(net2["id"], "10.0.20.0/24")
    pool = lb.pool()
    member = ok(lb.api.post(f"/v2/lbaas/pools/{pool['id']}/members", json={"member": {
        "address": "10.0.20.5", "protocol_port": 80, "subnet_id": subnet2["id"]}}),
        201)["member"]
    assert member["subnet_id"] == subnet2["id"]
    lb.settle()
    assert len(members_of(lb, pool["id"])) == 1


def test_local_network_of_another_region_is_refused(lb: Lb) -> None:
    """The spec's error: a member on a ``local`` network of RegionTwo, asked of RegionOne."""
    local = lb.cloud.network("local2", **{"provider:network_type": "local",
                                          "availability_zone_hints": ["RegionTwo"]})
    subnet = lb.cloud.subnet(local["id"], "10.0.30.0/24")
    pool = lb.pool()
    body = {"address": "10.0.30.5", "protocol_port": 80, "subnet_id": subnet["id"]}
    text = fault(lb.api.post(f"/v2/lbaas/pools/{pool['id']}/members",
                             json={"member": body}), 400)
    assert "network not located in current region" in text
    assert members_of(lb, pool["id"]) == []
    batch = fault(lb.api.put(f"/v2/lbaas/pools/{pool['id']}/members",
                             json={"members": [body]}), 400)
    assert "network not located in current region" in batch
    assert members_of(lb, pool["id"]) == []
    assert lb.cloud.jobs() == [("loadbalancer_create", lb.id), ("loadbalancer_apply", lb.id)]


def test_batch_update_replaces_the_member_list(lb: Lb) -> None:
    pool = lb.pool()
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    for address in ("10.0.10.11", "10.0.10.12"):
        ok(lb.api.post(path, json={"member": {"address": address, "protocol_port": 80,
                                              "monitor_port": 81}}), 201)
        lb.settle()
    resp = lb.api.put(path, json={"members": [
        {"address": "10.0.10.12", "protocol_port": 80, "weight": 5},
        {"address": "10.0.10.13", "protocol_port": 80, "name": "new"}]})
    assert resp.status_code == 202, resp.text
    state = {m["address"]: m for m in members_of(lb, pool["id"])}
    assert state["10.0.10.11"]["provisioning_status"] == "PENDING_DELETE"
    assert state["10.0.10.12"]["provisioning_status"] == "PENDING_UPDATE"
    assert state["10.0.10.12"]["weight"] == 5
    assert state["10.0.10.12"]["monitor_port"] == 81  # not given: kept
    assert state["10.0.10.13"]["provisioning_status"] == "PENDING_CREATE"
    assert state["10.0.10.13"]["name"] == "new"
    lb.settle()
    assert sorted(m["address"] for m in members_of(lb, pool["id"])) == [
        "10.0.10.12", "10.0.10.13"]
    additive = lb.api.put(path, params={"additive_only": "true"}, json={"members": [
        {"address": "10.0.10.14", "protocol_port": 80}]})
    assert additive.status_code == 202, additive.text
    lb.settle()
    assert len(members_of(lb, pool["id"])) == 3


def test_bad_batch_changes_nothing(lb: Lb) -> None:
    pool = lb.pool()
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    ok(lb.api.post(path, json={"member": {"address": "10.0.10.11", "protocol_port": 80}}), 201)
    lb.settle()
    twice = fault(lb.api.put(path, json={"members": [
        {"address": "10.0.10.12", "protocol_port": 80},
        {"address": "10.0.10.12", "protocol_port": 80}]}), 400)
    assert twice == "Validation failure: Member must be updated only once in the same request."
    bad = fault(lb.api.put(path, json={"members": [
        {"address": "10.0.10.12", "protocol_port": 80},
        {"address": "169.254.169.254", "protocol_port": 80}]}), 400)
    assert "not a valid option for member address" in bad
    only = members_of(lb, pool["id"])
    assert [(m["address"], m["provisioning_status"]) for m in only] == [("10.0.10.11", "ACTIVE")]
    # Emptying the list is allowed: every member goes.
    assert lb.api.put(path, json={"members": []}).status_code == 202
    assert members_of(lb, pool["id"])[0]["provisioning_status"] == "PENDING_DELETE"


def test_member_of_another_pool_is_not_found(lb: Lb) -> None:
    first, second = lb.pool(), lb.pool()
    member = ok(lb.api.post(f"/v2/lbaas/pools/{first['id']}/members", json={"member": {
        "address": "10.0.10.11", "protocol_port": 80}}), 201)["member"]
    lb.settle()
    assert fault(lb.api.get(f"/v2/lbaas/pools/{second['id']}/members/{member['id']}"),
                 404) == f"Member {member['id']} not found."
    assert fault(lb.api.delete(f"/v2/lbaas/pools/{second['id']}/members/{member['id']}"),
                 404) == f"Member {member['id']} not found."


def test_a_member_on_another_projects_subnet_is_refused(lb_cloud: LbCloud) -> None:
    """Issue 10: a member's subnet is resolved with the caller's visibility, in single
    and batch calls alike."""
    theirs = lb_cloud.subnet(lb_cloud.network("demo-net", token="demo-token")["id"],
                             "10.0.30.0/24", token="demo-token")
    mine = lb_cloud.subnet(lb_cloud.network("alt-net", token="alt-token")["id"],
                           "10.0.40.0/24", token="alt-token")
    alt = lb_cloud.lb(token="alt-token")
    lb = ok(alt.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": mine["id"]}}), 201)["loadbalancer"]
    lb_cloud.settle(lb["id"])
    pool = ok(alt.post("/v2/lbaas/pools", json={"pool": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}}), 201)["pool"]
    lb_cloud.settle(lb["id"])
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    member = {"address": "10.0.30.5", "protocol_port": 80, "subnet_id": theirs["id"]}
    expected = f"Subnet {theirs['id']} not found."
    # Octavia's NotFound (404) for a subnet the caller cannot see.
    assert fault(alt.post(path, json={"member": member}), 404) == expected
    assert fault(alt.put(path, json={"members": [member]}), 404) == expected
    assert ok(alt.get(path))["members"] == []
    ok(alt.post(path, json={"member": {**member, "address": "10.0.40.5",
                                       "subnet_id": mine["id"]}}), 201)


def test_a_member_or_monitor_address_in_a_management_network_is_refused(lb: Lb) -> None:
    """Issue 10: from a management network a tenant's HAProxy and health checks would
    reach the amphorae's agents."""
    pool = lb.pool(listener=True)
    path = f"/v2/lbaas/pools/{pool['id']}/members"
    for address in ("192.168.10.5", "192.168.20.9"):
        assert fault(lb.api.post(path, json={"member": {
            "address": address, "protocol_port": 80}}), 400) == \
            f"{address} is not a valid option for member address"
    text = fault(lb.api.post(path, json={"member": {
        "address": "10.0.10.20", "protocol_port": 80, "monitor_address": "192.168.10.3"}}),
        400)
    assert text == "192.168.10.3 is not a valid option for monitor_address"
    assert members_of(lb, pool["id"]) == []
