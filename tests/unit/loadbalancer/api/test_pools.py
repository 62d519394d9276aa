"""Pools through the real Octavia API of RegionOne: protocol matrix, session
persistence, default-pool rules, immutability, cascade delete, RBAC, quota.

``active_lb`` and ``settled`` are the helpers the member, monitor and L7 tests
share (imported from here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models

Body = dict[str, Any]


@dataclass
class Lb:
    """An ACTIVE load balancer on subnet1 (10.0.10.0/24) with one listener."""

    cloud: LbCloud
    id: str
    listener_id: str
    subnet_id: str
    vip_address: str
    api: httpx.Client

    def settle(self) -> None:
        self.cloud.settle(self.id)

    def listener(self, protocol: str, port: int) -> str:
        body = {"listener": {"loadbalancer_id": self.id, "protocol": protocol,
                             "protocol_port": port}}
        listener_id: str = ok(self.api.post("/v2/lbaas/listeners", json=body), 201)[
            "listener"]["id"]
        self.settle()
        return listener_id

    def pool(self, protocol: str = "HTTP", listener: bool = False, **attrs: Any) -> Body:
        """A pool on the load balancer (or as the listener's default), settled."""
        where = {"listener_id": self.listener_id} if listener else {"loadbalancer_id": self.id}
        body = {"pool": {**where, "protocol": protocol, "lb_algorithm": "ROUND_ROBIN", **attrs}}
        pool: Body = ok(self.api.post("/v2/lbaas/pools", json=body), 201)["pool"]
        self.settle()
        return pool

    def count(self, collection: str) -> int:
        return len(ok(self.api.get(f"/v2/lbaas/{collection}"))[collection.split("/")[-1]])


def active_lb(cloud: LbCloud, protocol: str = "HTTP", port: int = 80) -> Lb:
    net = cloud.network("net1")
    subnet = cloud.subnet(net["id"], "10.0.10.0/24")
    api = cloud.lb()
    lb = ok(api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "name": "lb1", "vip_subnet_id": subnet["id"]}}), 201)["loadbalancer"]
    cloud.settle(lb["id"])
    made = Lb(cloud, lb["id"], "", subnet["id"], lb["vip_address"], api)
    made.listener_id = made.listener(protocol, port)
    return made


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Lb:
    return active_lb(lb_cloud)


def test_pool_on_listener_becomes_its_default_pool(lb: Lb) -> None:
    body = {"pool": {"listener_id": lb.listener_id, "protocol": "HTTP",
                     "lb_algorithm": "LEAST_CONNECTIONS", "name": "pool1", "tags": ["t1"]}}
    pool = ok(lb.api.post("/v2/lbaas/pools", json=body), 201)["pool"]
    assert pool["provisioning_status"] == "PENDING_CREATE"
    assert pool["operating_status"] == "OFFLINE"
    assert pool["loadbalancers"] == [{"id": lb.id}]
    assert pool["listeners"] == [{"id": lb.listener_id}]
    assert pool["members"] == [] and pool["healthmonitor_id"] is None
    assert pool["session_persistence"] is None and pool["tags"] == ["t1"]
    listener = ok(lb.api.get(f"/v2/lbaas/listeners/{lb.listener_id}"))["listener"]
    assert listener["default_pool_id"] == pool["id"]
    lb_body = ok(lb.api.get(f"/v2/lbaas/loadbalancers/{lb.id}"))["loadbalancer"]
    assert lb_body["provisioning_status"] == "PENDING_UPDATE"
    assert ("loadbalancer_apply", lb.id) in lb.cloud.jobs()
    # Immutable until the controller is done.
    text = fault(lb.api.post("/v2/lbaas/pools", json={"pool": {
        "loadbalancer_id": lb.id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}), 409)
    assert text == f"Load Balancer {lb.id} is immutable and cannot be updated."
    lb.settle()
    shown = ok(lb.api.get(f"/v2/lbaas/pools/{pool['id']}"))["pool"]
    assert shown["provisioning_status"] == "ACTIVE" and shown["name"] == "pool1"
    listed = ok(lb.api.get("/v2/lbaas/pools", params={"name": "pool1"}))["pools"]
    assert [p["id"] for p in listed] == [pool["id"]]
    # The listener has its default pool now.
    text = fault(lb.api.post("/v2/lbaas/pools", json=body), 409)
    assert text == "This listener already has a default pool"
    assert lb.count("pools") == 1


def test_listener_pool_protocol_matrix(lb: Lb) -> None:
    listeners = {"HTTP": lb.listener_id, "TCP": lb.listener("TCP", 81),
                 "HTTPS": lb.listener("HTTPS", 443)}
    allowed = {("HTTP", "HTTP"), ("TCP", "HTTP"), ("TCP", "HTTPS"), ("TCP", "TCP"),
               ("HTTPS", "HTTPS"), ("HTTPS", "TCP")}
    for listener_protocol, listener_id in listeners.items():
        for pool_protocol in ("HTTP", "HTTPS", "TCP"):
            if (listener_protocol, pool_protocol) in allowed:
                continue
            text = fault(lb.api.post("/v2/lbaas/pools", json={"pool": {
                "listener_id": listener_id, "protocol": pool_protocol,
                "lb_algorithm": "ROUND_ROBIN"}}), 400)
            assert text == (f"Validation failure: The pool protocol '{pool_protocol}' is "
                            f"invalid while the listener protocol is '{listener_protocol}'.")
    assert lb.count("pools") == 0
    for listener_protocol, pool_protocol in (("TCP", "HTTP"), ("HTTPS", "TCP")):
        pool = ok(lb.api.post("/v2/lbaas/pools", json={"pool": {
            "listener_id": listeners[listener_protocol], "protocol": pool_protocol,
            "lb_algorithm": "SOURCE_IP"}}), 201)["pool"]
        assert pool["listeners"] == [{"id": listeners[listener_protocol]}]
        lb.settle()


BAD_POOLS: list[tuple[Body, int, str]] = [
    ({"protocol": "FTP"}, 400, "protocol"),
    ({"protocol": "SCTP"}, 501, "Provider 'amphora' does not support a requested option: "
     "Amphora provider does not support SCTP protocol."),
    ({"lb_algorithm": "SOURCE_IP_PORT"}, 501, "Provider 'amphora' does not support a "
     "requested option: Amphora provider does not support SOURCE_IP_PORT algorithm."),
    ({"lb_algorithm": "RANDOM"}, 400, "lb_algorithm"),
    ({"session_persistence": {"type": "HTTP_COOKIE", "cookie_name": "c"}}, 400,
     'Field "cookie_name" can only be specified with session persistence of type '
     '"APP_COOKIE".'),
    ({"session_persistence": {"type": "APP_COOKIE"}}, 400,
     'Field "cookie_name" must be specified when using the "APP_COOKIE"'),
    ({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a b"}}, 400,
     "cookie_name"),
    ({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "x\nbind :1"}}, 400,
     "cookie_name"),
    ({"session_persistence": {"type": "APP_COOKIE", "cookie_name": "a=b"}}, 400,
     'Supplied "cookie_name" is invalid.'),
    ({"protocol": "UDP", "session_persistence": {"type": "HTTP_COOKIE"}}, 400,
     "Session persistence of type HTTP_COOKIE is not supported for UDP/SCTP protocol pools."),
    ({"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 5}}, 400,
     "persistence_timeout and persistence_granularity is only for UDP and SCTP protocol "
     "pools."),
    ({"session_persistence": {"type": "STICKY"}}, 400, "type"),
    ({"name": "a\nbackend evil"}, 400, "name"),
    ({"name": "x" * 256}, 400, "name"),
    ({"description": "d" * 256}, 400, "description"),
    ({"tls_container_ref": "http://nowhere/secret"}, 400,
     "Could not retrieve certificate: ['http://nowhere/secret']"),
    ({"tls_enabled": True, "tls_versions": ["TLSv9"]}, 400, "Invalid TLS versions: TLSv9"),
    ({"tls_enabled": True, "tls_ciphers": "A B"}, 400, "Invalid characters in cipher string."),
    ({"crl_container_ref": "x"}, 400, "A CA certificate reference is required to specify a "
     "revocation list."),
    ({"loadbalancer_id": None}, 400,
     "Validation failure: Must provide at least one of: loadbalancer_id, listener_id"),
    ({"loadbalancer_id": "6f1d3a0e-0000-4000-8000-000000000000"}, 404,
     "Load Balancer 6f1d3a0e-0000-4000-8000-000000000000 not found."),
]


def test_bad_pool_requests_create_nothing(lb: Lb) -> None:
    for attrs, code, words in BAD_POOLS:
        body = {"loadbalancer_id": lb.id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                **attrs}
        text = fault(lb.api.post("/v2/lbaas/pools", json={"pool": body}), code)
        assert words in text, (attrs, text)
    assert lb.count("pools") == 0
    lb_body = ok(lb.api.get(f"/v2/lbaas/loadbalancers/{lb.id}"))["loadbalancer"]
    assert lb_body["provisioning_status"] == "ACTIVE"
    assert lb.cloud.jobs() == [("loadbalancer_create", lb.id), ("loadbalancer_apply", lb.id)]


def test_listener_of_another_load_balancer_is_refused(lb: Lb) -> None:
    other = ok(lb.api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": lb.subnet_id}}), 201)["loadbalancer"]
    lb.cloud.settle(other["id"])
    text = fault(lb.api.post("/v2/lbaas/pools", json={"pool": {
        "loadbalancer_id": other["id"], "listener_id": lb.listener_id, "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}}), 400)
    assert text == f"Validation failure: Listener {lb.listener_id} is not on load balancer " \
        f"{other['id']}."
    assert lb.count("pools") == 0


def test_update_algorithm_and_session_persistence(lb: Lb) -> None:
    pool = lb.pool(listener=True)
    path = f"/v2/lbaas/pools/{pool['id']}"
    sp = {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}
    updated = ok(lb.api.put(path, json={"pool": {"lb_algorithm": "SOURCE_IP",
                                                 "session_persistence": sp}}))["pool"]
    assert updated["provisioning_status"] == "PENDING_UPDATE"
    assert updated["lb_algorithm"] == "SOURCE_IP"
    assert updated["session_persistence"]["cookie_name"] == "JSESSIONID"
    lb.settle()
    cleared = ok(lb.api.put(path, json={"pool": {"session_persistence": None}}))["pool"]
    assert cleared["session_persistence"] is None and cleared["lb_algorithm"] == "SOURCE_IP"
    lb.settle()
    assert "protocol" in fault(lb.api.put(path, json={"pool": {"protocol": "TCP"}}), 400)


def test_cookie_persistence_on_a_tcp_listener_is_octavias_to_accept(lb: Lb) -> None:
    """Octavia has no rule between cookie persistence and the listener's protocol."""
    tcp = lb.listener("TCP", 81)
    pool = ok(lb.api.post("/v2/lbaas/pools", json={"pool": {
        "listener_id": tcp, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}), 201)["pool"]
    lb.settle()
    updated = ok(lb.api.put(f"/v2/lbaas/pools/{pool['id']}", json={"pool": {
        "session_persistence": {"type": "HTTP_COOKIE"}}}))["pool"]
    assert updated["session_persistence"]["type"] == "HTTP_COOKIE"
    lb.settle()
    created = fault(lb.api.post("/v2/lbaas/pools", json={"pool": {
        "listener_id": lb.listener_id, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}), 400)
    assert "invalid while the listener protocol is 'HTTP'" in created


def test_udp_proxy_and_tls_pools_are_stored(lb: Lb) -> None:
    """UDP (SOURCE_IP persistence with its timeout), PROXY/PROXYV2 and a re-encrypting
    pool with Octavia's TLS defaults."""
    udp = lb.pool("UDP", session_persistence={"type": "SOURCE_IP", "persistence_timeout": 60,
                                              "persistence_granularity": "255.255.255.0"})
    assert udp["session_persistence"]["persistence_timeout"] == 60
    assert udp["tls_enabled"] is False and udp["tls_versions"] is None
    for protocol in ("PROXY", "PROXYV2"):
        assert lb.pool(protocol)["protocol"] == protocol
    tls = lb.pool("HTTP", tls_enabled=True)
    assert tls["tls_enabled"] is True
    assert tls["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert tls["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert tls["tls_ciphers"].startswith("TLS_AES_128_GCM_SHA256:")
    path = f"/v2/lbaas/pools/{tls['id']}"
    updated = ok(lb.api.put(path, json={"pool": {"tls_versions": ["TLSv1.3"],
                                                  "alpn_protocols": ["h2"]}}))["pool"]
    assert (updated["tls_versions"], updated["alpn_protocols"]) == (["TLSv1.3"], ["h2"])
    lb.settle()
    reset = ok(lb.api.put(path, json={"pool": {"tls_versions": None}}))["pool"]
    assert reset["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    with lb.cloud.lb_db().read() as session:
        row = session.get(models.Pool, tls["id"])
        assert row is not None and row.tls_enabled and row.tls_versions == ["TLSv1.2", "TLSv1.3"]


def test_delete_cascades_to_members_and_monitor(lb: Lb) -> None:
    pool = lb.pool(listener=True)
    members = f"/v2/lbaas/pools/{pool['id']}/members"
    member = ok(lb.api.post(members, json={"member": {"address": "10.0.10.11",
                                                      "protocol_port": 80}}), 201)["member"]
    lb.settle()
    hm = ok(lb.api.post("/v2/lbaas/healthmonitors", json={"healthmonitor": {
        "pool_id": pool["id"], "type": "HTTP", "delay": 2, "timeout": 1,
        "max_retries": 2}}), 201)["healthmonitor"]
    lb.settle()
    assert lb.api.delete(f"/v2/lbaas/pools/{pool['id']}").status_code == 204
    assert ok(lb.api.get(f"/v2/lbaas/pools/{pool['id']}"))["pool"][
        "provisioning_status"] == "PENDING_DELETE"
    assert ok(lb.api.get(f"{members}/{member['id']}"))["member"][
        "provisioning_status"] == "PENDING_DELETE"
    assert ok(lb.api.get(f"/v2/lbaas/healthmonitors/{hm['id']}"))["healthmonitor"][
        "provisioning_status"] == "PENDING_DELETE"
    listener = ok(lb.api.get(f"/v2/lbaas/listeners/{lb.listener_id}"))["listener"]
    assert listener["default_pool_id"] is None
    assert fault(lb.api.delete(f"/v2/lbaas/pools/{pool['id']}"), 409).endswith(
        "is immutable and cannot be updated.")
    lb.settle()
    for path, kind in ((f"/v2/lbaas/pools/{pool['id']}", "Pool"),
                       (f"/v2/lbaas/healthmonitors/{hm['id']}", "Health Monitor")):
        assert "not found" in fault(lb.api.get(path), 404), kind
    assert lb.count("healthmonitors") == 0


def test_pool_in_use_by_l7_policy_cannot_be_deleted(lb: Lb) -> None:
    target = lb.pool()
    policy = ok(lb.api.post("/v2/lbaas/l7policies", json={"l7policy": {
        "listener_id": lb.listener_id, "action": "REDIRECT_TO_POOL",
        "redirect_pool_id": target["id"]}}), 201)["l7policy"]
    lb.settle()
    shown = ok(lb.api.get(f"/v2/lbaas/pools/{target['id']}"))["pool"]
    assert shown["listeners"] == [{"id": lb.listener_id}]
    text = fault(lb.api.delete(f"/v2/lbaas/pools/{target['id']}"), 409)
    assert text == f"Pool {target['id']} is in use by L7 policy {policy['id']}"
    assert lb.count("pools") == 1


def test_rbac_scoping_and_quota(lb_cloud: LbCloud) -> None:
    lb = active_lb(lb_cloud)
    demo = lb_cloud.lb(token="demo-token")
    reader = lb_cloud.lb(token="reader-token")
    body = {"pool": {"loadbalancer_id": lb.id, "protocol": "HTTP",
                     "lb_algorithm": "ROUND_ROBIN"}}
    # The load balancer is the admin project's: Octavia's policy refuses another project.
    assert fault(demo.post("/v2/lbaas/pools", json=body), 403) == \
        "Policy does not allow this request to be performed."
    assert fault(reader.post("/v2/lbaas/pools", json=body), 403) == \
        "Policy does not allow this request to be performed."
    pool = lb.pool()
    assert fault(demo.get(f"/v2/lbaas/pools/{pool['id']}"), 403) == \
        "Policy does not allow this request to be performed."
    assert ok(demo.get("/v2/lbaas/pools"))["pools"] == []
    ok(lb.api.put("/v2/lbaas/quotas/admin-project", json={"quota": {"pool": 1}}), 202)
    assert fault(lb.api.post("/v2/lbaas/pools", json=body), 403) == \
        "Quota has been met for resources: Pool"
    assert lb.count("pools") == 1
