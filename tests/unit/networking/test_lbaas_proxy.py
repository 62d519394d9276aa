"""Neutron's LBaaS v2 extension of local networking, handed to the region's Octavia.

The translation tests need nothing; the API tests run RegionOne's real
networking against RegionOne's real load-balancer app (in-process, routed by
host name), so what the Neutron API creates is checked in Octavia's API.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
import uvicorn
from fastapi import FastAPI
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from networking_testing import Cloud, error, ok
from openstack import exceptions as sdk_exceptions

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.networking.lbaas import resources, translate

# The load-balancer harness (``lb_cloud``) lives beside the Octavia API tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadbalancer" / "api"))

from lb_testing import LbCloud, build_lb_cloud


@pytest.fixture
def lb_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LbCloud]:
    yield from build_lb_cloud(tmp_path, monkeypatch)


NOT_LOCATED = "network not located in current region"
LB_ID = "1d8bd3f4-4c60-47f5-9f3e-6a1bd4b10a33"
PROJECT = "5a1f3b2c9d8e4f7a"


def octavia_lb(**over: Any) -> dict[str, Any]:
    lb = {"id": LB_ID, "name": "lb1", "description": "", "project_id": PROJECT,
          "vip_subnet_id": "s1", "vip_network_id": "n1", "vip_address": "10.0.0.5",
          "vip_port_id": "p1", "vip_qos_policy_id": None, "provider": "amphora",
          "listeners": [{"id": "l1"}], "pools": [], "admin_state_up": True,
          "provisioning_status": "ACTIVE", "operating_status": "ONLINE", "flavor_id": None,
          "availability_zone": None, "tags": [], "created_at": "2026-11-25T00:00:00",
          "updated_at": None}
    lb.update(over)
    return lb


# --- requests: Neutron body -> Octavia body ---------------------------------------------

def test_create_maps_tenant_to_project_and_drops_nulls() -> None:
    body = {"loadbalancer": {"name": "lb1", "vip_subnet_id": "s1", "tenant_id": PROJECT,
                             "vip_address": None, "admin_state_up": True}}
    assert translate.to_octavia(resources.LOADBALANCER, body, creating=True) == {
        "loadbalancer": {"name": "lb1", "vip_subnet_id": "s1", "admin_state_up": True,
                         "project_id": PROJECT}}


def test_child_owner_is_left_to_its_load_balancer() -> None:
    body = {"listener": {"loadbalancer_id": LB_ID, "protocol": "HTTP", "protocol_port": 80,
                         "tenant_id": PROJECT, "project_id": PROJECT}}
    out = translate.to_octavia(resources.LISTENER, body, creating=True)
    assert out == {"listener": {"loadbalancer_id": LB_ID, "protocol": "HTTP",
                                "protocol_port": 80}}


def test_owner_names_must_agree() -> None:
    body = {"loadbalancer": {"vip_subnet_id": "s1", "tenant_id": "a", "project_id": "b"}}
    with pytest.raises(BadRequest, match="'project_id' and 'tenant_id' do not match"):
        translate.to_octavia(resources.LOADBALANCER, body, creating=True)


@pytest.mark.parametrize("persistence", [{}, None])
def test_no_persistence_is_null_for_octavia(persistence: Any) -> None:
    body = {"pool": {"name": "p", "session_persistence": persistence}}
    out = translate.to_octavia(resources.POOL, body, creating=False)
    assert out == {"pool": {"name": "p", "session_persistence": None}}


def test_update_keeps_explicit_null() -> None:
    body = {"listener": {"default_pool_id": None}}
    assert translate.to_octavia(resources.LISTENER, body, creating=False) == body


@pytest.mark.parametrize(("kind", "payload", "creating", "message"), [
    (resources.POOL, None, True, "Resource body required"),
    (resources.POOL, {"listener": {}}, True, "Unable to find 'pool' in request body"),
    (resources.POOL, {"pool": []}, True, "Unable to find 'pool' in request body"),
    (resources.POOL, {"pool": {"bogus": 1, "zz": 2}}, True,
     "Unrecognized attribute(s) 'bogus, zz'"),
    (resources.POOL, {"pool": {"id": "x"}}, True, "Attribute 'id' not allowed in POST"),
    (resources.POOL, {"pool": {"protocol": "TCP"}}, False,
     "Cannot update read-only attribute protocol"),
    (resources.MEMBER, {"member": {"address": "10.0.0.9"}}, False,
     "Cannot update read-only attribute address"),
    (resources.LOADBALANCER, {"loadbalancer": {"tenant_id": "x"}}, False,
     "Cannot update read-only attribute tenant_id"),
    (resources.HEALTHMONITOR, {"healthmonitor": {"pools": []}}, True,
     "Attribute 'pools' not allowed in POST"),
])
def test_neutron_checks_the_shape(kind: resources.Kind, payload: Any, creating: bool,
                                  message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        translate.to_octavia(kind, payload, creating)
    assert caught.value.message == message
    assert caught.value.kind == "HTTPBadRequest"


# --- responses: Octavia object -> Neutron object ----------------------------------------

def test_load_balancer_in_neutron_words() -> None:
    out = translate.to_neutron(resources.LOADBALANCER, octavia_lb())
    assert out == {"id": LB_ID, "name": "lb1", "description": "", "vip_subnet_id": "s1",
                   "vip_address": "10.0.0.5", "vip_port_id": "p1", "provider": "amphora",
                   "listeners": [{"id": "l1"}], "pools": [], "admin_state_up": True,
                   "provisioning_status": "ACTIVE", "operating_status": "ONLINE",
                   "flavor_id": None, "tenant_id": PROJECT, "project_id": PROJECT}


def test_fields_pick_neutron_attributes() -> None:
    out = translate.to_neutron(resources.LOADBALANCER, octavia_lb(), ["id", "tenant_id"])
    assert out == {"id": LB_ID, "tenant_id": PROJECT}


def test_pool_persistence_has_neutrons_keys_only() -> None:
    pool = {"id": "p", "project_id": PROJECT, "healthmonitor_id": None,
            "session_persistence": {"type": "APP_COOKIE", "cookie_name": "c",
                                    "persistence_timeout": None,
                                    "persistence_granularity": None},
            "loadbalancers": [{"id": LB_ID}], "listeners": [], "members": [{"id": "m"}]}
    out = translate.to_neutron(resources.POOL, pool)
    assert out["session_persistence"] == {"type": "APP_COOKIE", "cookie_name": "c"}
    assert out["loadbalancers"] == [{"id": LB_ID}]
    assert out["members"] == [{"id": "m"}]


def test_list_query_maps_tenant_and_takes_fields() -> None:
    query, fields = translate.list_query([("name", "lb1"), ("tenant_id", PROJECT),
                                          ("fields", "id"), ("fields", "name,tenant_id"),
                                          ("sort_key", "tenant_id"), ("sort_dir", "asc")])
    assert query == [("name", "lb1"), ("project_id", PROJECT), ("sort_key", "project_id"),
                     ("sort_dir", "asc")]
    assert fields == ["id", "name", "tenant_id"]


def test_page_links_point_at_this_api() -> None:
    links = [{"rel": "next",
              "href": "http://lb-r1.test/v2/lbaas/loadbalancers?limit=1&marker=abc"}]
    here = "http://r1.test/v2.0/lbaas/loadbalancers?limit=1"
    assert translate.page_links(links, here) == [
        {"rel": "next", "href": "http://r1.test/v2.0/lbaas/loadbalancers?limit=1&marker=abc"}]
    assert translate.page_links(None, here) == []


def test_status_tree_names_health_monitors_as_neutron() -> None:
    tree = {"loadbalancer": {"id": LB_ID, "listeners": [{"id": "l1", "pools": [
        {"id": "p1", "health_monitor": {"id": "h1", "type": "HTTP"}, "members": []}]}]}}
    pool = translate.statuses(tree)["loadbalancer"]["listeners"][0]["pools"][0]
    assert pool["healthmonitor"] == {"id": "h1", "type": "HTTP"}
    assert "health_monitor" not in pool


def test_stats_are_neutrons_four_counters() -> None:
    body = {"stats": {"bytes_in": 10, "bytes_out": 20, "active_connections": 1,
                      "total_connections": 3, "request_errors": 0}}
    assert translate.stats(body) == {"stats": {"bytes_in": 10, "bytes_out": 20,
                                               "active_connections": 1,
                                               "total_connections": 3}}


# --- the extension in networking ----------------------------------------------------------

def test_regions_list_lbaasv2_and_central_does_not(cloud: Cloud) -> None:
    region = cloud.client("RegionOne", "demo-token")
    aliases = {e["alias"]: e for e in ok(region.get("/v2.0/extensions"))["extensions"]}
    assert aliases["lbaasv2"]["name"] == "LoadBalancing service v2"
    assert ok(region.get("/v2.0/extensions/lbaasv2"))["extension"]["alias"] == "lbaasv2"
    central = cloud.client("CentralRegion", "demo-token")
    assert "lbaasv2" not in {e["alias"] for e in ok(central.get("/v2.0/extensions"))[
        "extensions"]}
    assert central.get("/v2.0/extensions/lbaasv2").status_code == 404
    assert central.get("/v2.0/lbaas/loadbalancers").status_code == 404


# --- through RegionOne's networking to RegionOne's Octavia ----------------------------------

NEUTRON = "/v2.0/lbaas"
OCTAVIA = "/v2/lbaas"


def neutron_post(client: httpx.Client, path: str, key: str, **attrs: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(client.post(f"{NEUTRON}/{path}", json={key: attrs}), 201)[key]
    return result


def test_tree_made_through_neutron_is_octavias(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    r1, octavia = lb_cloud.client("RegionOne", "demo-token"), lb_cloud.lb(token="demo-token")

    lb = neutron_post(r1, "loadbalancers", "loadbalancer", name="lb1", vip_subnet_id=sub["id"],
                      tenant_id="demo-project")
    assert lb["tenant_id"] == lb["project_id"] == "demo-project"
    assert lb["provisioning_status"] == "PENDING_CREATE" and lb["vip_address"]
    assert "created_at" not in lb and "vip_network_id" not in lb
    assert ok(octavia.get(f"{OCTAVIA}/loadbalancers/{lb['id']}"))["loadbalancer"]["name"] == "lb1"

    # Octavia's immutability reaches Neutron clients as a 409 NeutronError.
    err = error(r1.post(f"{NEUTRON}/listeners", json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}}), 409)
    assert err == {"type": "Conflict", "detail": "",
                   "message": f"Load Balancer {lb['id']} is immutable and cannot be updated."}
    lb_cloud.settle(lb["id"])

    listener = neutron_post(r1, "listeners", "listener", loadbalancer_id=lb["id"],
                            protocol="HTTP", protocol_port=80, name="web")
    assert listener["loadbalancers"] == [{"id": lb["id"]}]
    lb_cloud.settle(lb["id"])
    pool = neutron_post(r1, "pools", "pool", listener_id=listener["id"], protocol="HTTP",
                        lb_algorithm="ROUND_ROBIN", session_persistence={"type": "SOURCE_IP"})
    assert pool["session_persistence"] == {"type": "SOURCE_IP", "cookie_name": None}
    lb_cloud.settle(lb["id"])
    member = neutron_post(r1, f"pools/{pool['id']}/members", "member", address="10.0.1.10",
                          protocol_port=8080, subnet_id=sub["id"], weight=2)
    assert member["weight"] == 2 and member["tenant_id"] == "demo-project"
    lb_cloud.settle(lb["id"])
    hm = neutron_post(r1, "healthmonitors", "healthmonitor", pool_id=pool["id"], type="HTTP",
                      delay=5, timeout=3, max_retries=3, url_path="/health")
    assert hm["pools"] == [{"id": pool["id"]}] and hm["url_path"] == "/health"
    lb_cloud.settle(lb["id"])

    # The same objects, same ids, in Octavia's API and back through Neutron's.
    seen = ok(octavia.get(f"{OCTAVIA}/pools/{pool['id']}"))["pool"]
    assert seen["members"] == [{"id": member["id"]}] and seen["healthmonitor_id"] == hm["id"]
    shown = ok(r1.get(f"{NEUTRON}/pools/{pool['id']}"))["pool"]
    assert shown["listeners"] == [{"id": listener["id"]}]
    assert shown["loadbalancers"] == [{"id": lb["id"]}]
    assert shown["healthmonitor_id"] == hm["id"] and shown["members"] == [{"id": member["id"]}]
    shown_lb = ok(r1.get(f"{NEUTRON}/loadbalancers/{lb['id']}"))["loadbalancer"]
    assert shown_lb["listeners"] == [{"id": listener["id"]}]
    assert shown_lb["pools"] == [{"id": pool["id"]}]
    assert shown_lb["provisioning_status"] == "ACTIVE"

    tree = ok(r1.get(f"{NEUTRON}/loadbalancers/{lb['id']}/statuses"))["statuses"]
    [tree_listener] = tree["loadbalancer"]["listeners"]
    [tree_pool] = tree_listener["pools"]
    assert tree["loadbalancer"]["id"] == lb["id"] and tree_listener["id"] == listener["id"]
    assert tree_pool["healthmonitor"]["id"] == hm["id"]
    assert [m["id"] for m in tree_pool["members"]] == [member["id"]]
    counters = ok(r1.get(f"{NEUTRON}/loadbalancers/{lb['id']}/stats"))["stats"]
    assert set(counters) == set(translate.STATS_KEYS)

    members = ok(r1.get(f"{NEUTRON}/pools/{pool['id']}/members"))["members"]
    assert [m["id"] for m in members] == [member["id"]]
    assert ok(r1.get(f"{NEUTRON}/healthmonitors/{hm['id']}"))["healthmonitor"]["delay"] == 5


def test_list_filters_fields_update_and_delete(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    r1 = lb_cloud.client("RegionOne", "demo-token")
    one = neutron_post(r1, "loadbalancers", "loadbalancer", name="one", vip_subnet_id=sub["id"])
    two = neutron_post(r1, "loadbalancers", "loadbalancer", name="two", vip_subnet_id=sub["id"])

    named = ok(r1.get(f"{NEUTRON}/loadbalancers", params={"name": "two"}))["loadbalancers"]
    assert [lb["id"] for lb in named] == [two["id"]]
    mine = ok(r1.get(f"{NEUTRON}/loadbalancers", params={"tenant_id": "demo-project"}))
    assert {lb["id"] for lb in mine["loadbalancers"]} == {one["id"], two["id"]}
    picked = ok(r1.get(f"{NEUTRON}/loadbalancers",
                       params=[("fields", "id"), ("fields", "tenant_id")]))["loadbalancers"]
    assert all(set(lb) == {"id", "tenant_id"} for lb in picked) and len(picked) == 2
    page = ok(r1.get(f"{NEUTRON}/loadbalancers", params={"limit": "1"}))
    assert len(page["loadbalancers"]) == 1
    [nxt] = [link for link in page["loadbalancers_links"] if link["rel"] == "next"]
    assert nxt["href"].startswith(f"http://r1.test{NEUTRON}/loadbalancers?")
    rest = ok(r1.get(nxt["href"]))["loadbalancers"]
    assert {page["loadbalancers"][0]["id"], rest[0]["id"]} == {one["id"], two["id"]}
    # Another project sees none of them.
    other = lb_cloud.client("RegionOne", "alt-token")
    assert ok(other.get(f"{NEUTRON}/loadbalancers"))["loadbalancers"] == []
    # Octavia's rules decide (decision 071): another project's object is its 403.
    assert error(other.get(f"{NEUTRON}/loadbalancers/{one['id']}"), 403)["type"] == \
        "NotAuthorized"

    lb_cloud.settle(one["id"])
    renamed = ok(r1.put(f"{NEUTRON}/loadbalancers/{one['id']}",
                        json={"loadbalancer": {"name": "uno"}}))["loadbalancer"]
    assert renamed["name"] == "uno" and renamed["provisioning_status"] == "PENDING_UPDATE"
    err = error(r1.put(f"{NEUTRON}/loadbalancers/{one['id']}",
                       json={"loadbalancer": {"vip_address": "10.0.1.99"}}), 400)
    assert err["message"] == "Cannot update read-only attribute vip_address"

    lb_cloud.settle(two["id"])
    assert r1.delete(f"{NEUTRON}/loadbalancers/{two['id']}").status_code == 204
    gone = ok(lb_cloud.lb(token="demo-token").get(f"{OCTAVIA}/loadbalancers/{two['id']}"))
    assert gone["loadbalancer"]["provisioning_status"] == "PENDING_DELETE"


def test_octavias_errors_become_neutron_errors(lb_cloud: LbCloud) -> None:
    missing = "7b5c0c2a-8f0e-4a53-9d43-111111111111"
    r1 = lb_cloud.client("RegionOne")
    err = error(r1.get(f"{NEUTRON}/loadbalancers/{missing}"), 404)
    assert err["type"] == "NotFound"
    assert err["message"] == f"Load Balancer {missing} not found."
    err = error(r1.post(f"{NEUTRON}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": missing}}), 400)
    assert err["message"] == f"Subnet {missing} not found."
    err = error(r1.post(f"{NEUTRON}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": missing, "bogus": 1}}), 400)
    assert err == {"type": "HTTPBadRequest", "message": "Unrecognized attribute(s) 'bogus'",
                   "detail": ""}
    assert error(r1.post(f"{NEUTRON}/loadbalancers", content=b"{nope"), 400)
    # Octavia's policy decides: a reader may look but not create.
    reader = lb_cloud.client("RegionOne", "reader-token")
    assert ok(reader.get(f"{NEUTRON}/loadbalancers"))["loadbalancers"] == []
    err = error(reader.post(f"{NEUTRON}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": missing}}), 403)
    assert err["message"] == "Policy does not allow this request to be performed."
    assert error(lb_cloud.client("RegionOne", "bad-token").get(f"{NEUTRON}/pools"), 401)


def test_member_on_a_local_network_of_another_region(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("net1")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24")
    local: dict[str, Any] = {"provider:network_type": "local",
                             "availability_zone_hints": ["RegionTwo"]}
    remote = lb_cloud.network("r2-local", **local)
    remote_sub = lb_cloud.subnet(remote["id"], "10.0.30.0/24")
    r1 = lb_cloud.client("RegionOne")
    lb = neutron_post(r1, "loadbalancers", "loadbalancer", vip_subnet_id=sub["id"])
    lb_cloud.settle(lb["id"])
    pool = neutron_post(r1, "pools", "pool", loadbalancer_id=lb["id"], protocol="TCP",
                        lb_algorithm="ROUND_ROBIN")
    lb_cloud.settle(lb["id"])
    err = error(r1.post(f"{NEUTRON}/pools/{pool['id']}/members", json={"member": {
        "address": "10.0.30.5", "protocol_port": 80, "subnet_id": remote_sub["id"]}}), 400)
    assert err["type"] == "BadRequest" and NOT_LOCATED in err["message"]
    assert ok(r1.get(f"{NEUTRON}/pools/{pool['id']}/members"))["members"] == []
    # The same refusal for a load balancer's VIP.
    err = error(r1.post(f"{NEUTRON}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": remote_sub["id"]}}), 400)
    assert NOT_LOCATED in err["message"]


def test_load_balancer_service_down_is_a_503(lb_cloud: LbCloud) -> None:
    lb_cloud.router.down.add("lb-r1.test")
    err = error(lb_cloud.client("RegionOne").get(f"{NEUTRON}/loadbalancers"), 503)
    assert err["type"] == "ServiceUnavailable"
    assert "load-balancer service of RegionOne unreachable" in err["message"]


# --- openstacksdk's network proxy, unchanged, against RegionOne's networking ---------------

@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 (its lifespan already runs in the harness)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None,
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_openstacksdk_network_proxy(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    octavia = lb_cloud.lb(token="demo-token")
    with served(lb_cloud.apps["RegionOne"]) as url:
        auth = token_endpoint.Token(url, "demo-token")
        conn = openstack.connection.Connection(session=ks_session.Session(auth=auth),
                                               region_name="RegionOne")
        try:
            lb = conn.network.create_load_balancer(name="lb1", vip_subnet_id=sub["id"])
            assert lb.provisioning_status == "PENDING_CREATE" and lb.project_id == "demo-project"
            assert octavia.get(f"{OCTAVIA}/loadbalancers/{lb.id}").status_code == 200
            assert [x.id for x in conn.network.load_balancers(name="lb1")] == [lb.id]
            lb_cloud.settle(lb.id)
            assert conn.network.get_load_balancer(lb.id).provisioning_status == "ACTIVE"

            listener = conn.network.create_listener(load_balancer_id=lb.id, protocol="HTTP",
                                                    protocol_port=80)
            lb_cloud.settle(lb.id)
            pool = conn.network.create_pool(listener_id=listener.id, protocol="HTTP",
                                            lb_algorithm="ROUND_ROBIN")
            lb_cloud.settle(lb.id)
            member = conn.network.create_pool_member(pool, address="10.0.1.10",
                                                     protocol_port=80, subnet_id=sub["id"])
            lb_cloud.settle(lb.id)
            hm = conn.network.create_health_monitor(pool_id=pool.id, type="HTTP", delay=5,
                                                    timeout=3, max_retries=3)
            lb_cloud.settle(lb.id)
            seen = ok(octavia.get(f"{OCTAVIA}/pools/{pool.id}"))["pool"]
            assert seen["members"] == [{"id": member.id}] and seen["healthmonitor_id"] == hm.id
            assert [m.id for m in conn.network.pool_members(pool)] == [member.id]
            assert conn.network.get_pool(pool.id).health_monitor_id == hm.id

            # Busy through Octavia's API: the sdk gets Octavia's 409 as Neutron's.
            ok(octavia.put(f"{OCTAVIA}/loadbalancers/{lb.id}",
                           json={"loadbalancer": {"name": "busy"}}))
            with pytest.raises(sdk_exceptions.ConflictException, match="immutable"):
                conn.network.delete_pool_member(member, pool)

            lb_cloud.settle(lb.id)
            conn.network.delete_health_monitor(hm)
            lb_cloud.settle(lb.id)
            with pytest.raises(sdk_exceptions.NotFoundException):
                conn.network.get_health_monitor(hm.id)
        finally:
            conn.close()


def test_l7_policy_and_rule_through_neutron(lb_cloud: LbCloud) -> None:
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    r1 = lb_cloud.client("RegionOne", "demo-token")
    lb = neutron_post(r1, "loadbalancers", "loadbalancer", vip_subnet_id=sub["id"])
    lb_cloud.settle(lb["id"])
    listener = neutron_post(r1, "listeners", "listener", loadbalancer_id=lb["id"],
                            protocol="HTTP", protocol_port=80)
    lb_cloud.settle(lb["id"])
    api = neutron_post(r1, "pools", "pool", loadbalancer_id=lb["id"], protocol="HTTP",
                       lb_algorithm="ROUND_ROBIN", name="api")
    lb_cloud.settle(lb["id"])
    policy = neutron_post(r1, "l7policies", "l7policy", listener_id=listener["id"],
                          action="REDIRECT_TO_POOL", redirect_pool_id=api["id"], position=1)
    assert policy["listener_id"] == listener["id"] and policy["tenant_id"] == "demo-project"
    lb_cloud.settle(lb["id"])
    rule = neutron_post(r1, f"l7policies/{policy['id']}/rules", "rule", type="PATH",
                        compare_type="STARTS_WITH", value="/api")
    assert rule["value"] == "/api" and rule["invert"] is False
    lb_cloud.settle(lb["id"])
    shown = ok(r1.get(f"{NEUTRON}/l7policies/{policy['id']}"))["l7policy"]
    assert shown["rules"] == [{"id": rule["id"]}]
    listed = ok(r1.get(f"{NEUTRON}/l7policies/{policy['id']}/rules"))["rules"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert ok(r1.get(f"{NEUTRON}/listeners/{listener['id']}"))["listener"]["l7policies"] == [
        {"id": policy["id"]}]
