"""Listeners through the real Octavia API of RegionOne."""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models

LISTENERS = "/v2/lbaas/listeners"
Body = dict[str, Any]


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Body:
    """An ACTIVE load balancer of demo-project with an IPv4 VIP."""
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    result: Body = ok(lb_cloud.lb(token="demo-token").post("/v2/lbaas/loadbalancers", json={
        "loadbalancer": {"vip_subnet_id": sub["id"]}}), 201)["loadbalancer"]
    lb_cloud.settle(result["id"])
    return result


def create(cloud: LbCloud, lb: Body, **attrs: Any) -> Body:
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80, **attrs}
    result: Body = ok(cloud.lb(token="demo-token").post(LISTENERS, json={"listener": body}),
                      201)["listener"]
    return result


def add_pool(cloud: LbCloud, lb_id: str, protocol: str) -> str:
    with cloud.lb_db().write() as session:
        pool = models.Pool(loadbalancer_id=lb_id, project_id="demo-project", protocol=protocol,
                           lb_algorithm="ROUND_ROBIN",
                           provisioning_status=models.ProvisioningStatus.ACTIVE.value)
        session.add(pool)
        session.flush()
        return pool.id


def test_create_with_octavia_defaults(lb_cloud: LbCloud, lb: Body) -> None:
    listener = create(lb_cloud, lb, name="web", tags=["x"])
    assert listener["provisioning_status"] == "PENDING_CREATE"
    assert listener["operating_status"] == "OFFLINE"
    assert listener["connection_limit"] == -1
    assert (listener["timeout_client_data"], listener["timeout_member_connect"],
            listener["timeout_member_data"], listener["timeout_tcp_inspect"]) == \
        (50000, 5000, 50000, 0)
    assert listener["insert_headers"] == {} and listener["allowed_cidrs"] is None
    assert listener["loadbalancers"] == [{"id": lb["id"]}]
    assert listener["default_pool_id"] is None and listener["l7policies"] == []
    assert listener["project_id"] == "demo-project" and listener["tags"] == ["x"]
    shown = ok(lb_cloud.lb().get(f"/v2/lbaas/loadbalancers/{lb['id']}"))["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    assert shown["listeners"] == [{"id": listener["id"]}]
    assert lb_cloud.jobs()[-1] == ("loadbalancer_apply", lb["id"])


def test_protocols_ports_and_duplicates(lb_cloud: LbCloud, lb: Body) -> None:
    create(lb_cloud, lb, protocol="HTTPS", protocol_port=443)
    lb_cloud.settle(lb["id"])
    text = fault(lb_cloud.lb(token="demo-token").post(LISTENERS, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 443}}), 409)
    assert text == ("Another Listener on this Load Balancer is already using protocol HTTPS "
                    "and protocol_port 443")
    # Another L4 protocol may share the port, as in Octavia.
    udp = create(lb_cloud, lb, protocol="UDP", protocol_port=443)
    assert udp["protocol"] == "UDP"
    lb_cloud.settle(lb["id"])
    tcp = create(lb_cloud, lb, protocol="TCP", protocol_port=22,
                 allowed_cidrs=["192.0.2.0/24", "192.0.2.7/24"])
    assert tcp["allowed_cidrs"] == ["192.0.2.0/24"]


@pytest.mark.parametrize(("attrs", "status", "text"), [
    ({"protocol": "QUIC"}, 400,
     "Value should be one of: HTTP, HTTPS, TCP, TERMINATED_HTTPS, UDP, SCTP, PROMETHEUS"),
    ({"protocol": "TERMINATED_HTTPS"}, 400, "An SNI or default certificate container "
     "reference must be provided for TERMINATED_HTTPS protocol listeners."),
    ({"protocol": "SCTP"}, 501, "Provider 'amphora' does not support a requested option: "
     "Amphora provider does not support SCTP protocol."),
    ({"protocol_port": 0}, 400, "protocol_port"),
    ({"protocol_port": 65536}, 400, "protocol_port"),
    ({"connection_limit": -2}, 400, "connection_limit"),
    ({"timeout_client_data": 24 * 24 * 60 * 60 * 1000 + 1}, 400, "timeout_client_data"),
    ({"insert_headers": {"X-Forwarded-For": "true", "X-Evil": "1"}}, 400,
     "['X-Forwarded-For', 'X-Evil'] is not a valid option for insert_headers"),
    ({"protocol": "TCP", "insert_headers": {"X-Forwarded-For": "true"}}, 400,
     "insert-headers is not a valid option for a TCP protocol listener."),
    ({"insert_headers": {"X-SSL-Client-CN": "true"}}, 400,
     "['X-SSL-Client-CN'] is not a valid option for HTTP protocol listener."),
    ({"allowed_cidrs": ["2001:db8::/64"]}, 400, "Validation failure: CIDR 2001:db8::/64 IP "
     "version incompatible with all VIPs ['10.0.1.2'] IP version."),
    ({"allowed_cidrs": ["10.0.0.0/33"]}, 400, "allowed_cidrs"),
    ({"name": "x\r\ny"}, 400, "control characters"),
    ({"default_tls_container_ref": "x"}, 400, "Validation failure: Certificate container "
     "references are not allowed on HTTP protocol listeners."),
    ({"hsts_max_age": 10}, 400, "The HSTS feature can only be used for listeners using the "
     "TERMINATED_HTTPS protocol."),
    ({"protocol": "UDP", "insert_headers": {"X-Forwarded-For": "true"}}, 400,
     "insert-headers is not a valid option for a UDP protocol listener."),
    ({"protocol": "UDP", "default_tls_container_ref": "x"}, 400,
     "UDP protocol listener does not support TLS."),
    ({"alpn_protocols": ["spdy/3"]}, 400, "Value should be a valid ALPN protocol ID"),
    ({"client_authentication": "SOMETIMES"}, 400, "client_authentication"),
    ({"loadbalancer_id": "9e8b6fd0-0000-4000-8000-000000000000"}, 404,
     "Load Balancer 9e8b6fd0-0000-4000-8000-000000000000 not found."),
    ({"default_pool_id": "9e8b6fd0-0000-4000-8000-000000000001"}, 404,
     "Pool 9e8b6fd0-0000-4000-8000-000000000001 not found."),
    ({"project_id": "alt-project"}, 403, "Policy does not allow"),
])
def test_bad_input_creates_nothing(lb_cloud: LbCloud, lb: Body, attrs: Body, status: int,
                                   text: str) -> None:
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80, **attrs}
    resp = lb_cloud.lb(token="demo-token").post(LISTENERS, json={"listener": body})
    assert text in fault(resp, status)
    assert ok(lb_cloud.lb().get(LISTENERS))["listeners"] == []
    assert ok(lb_cloud.lb().get(f"/v2/lbaas/loadbalancers/{lb['id']}"))["loadbalancer"][
        "provisioning_status"] == "ACTIVE"


def test_insert_headers_and_default_pool_rules(lb_cloud: LbCloud, lb: Body) -> None:
    http_pool = add_pool(lb_cloud, lb["id"], "HTTP")
    tcp_pool = add_pool(lb_cloud, lb["id"], "TCP")
    listener = create(lb_cloud, lb, default_pool_id=http_pool,
                      insert_headers={"X-Forwarded-For": "True", "X-Forwarded-Proto": "false"})
    # Stored as given, as Octavia does (its renderer reads "true" in any case).
    assert listener["insert_headers"] == {"X-Forwarded-For": "True",
                                          "X-Forwarded-Proto": "false"}
    assert listener["default_pool_id"] == http_pool
    lb_cloud.settle(lb["id"])
    demo = lb_cloud.lb(token="demo-token")
    text = fault(demo.post(LISTENERS, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 81,
        "default_pool_id": tcp_pool}}), 400)
    assert text == ("Validation failure: The pool protocol 'TCP' is invalid while the "
                    "listener protocol is 'HTTP'.")
    text = fault(demo.post(LISTENERS, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 81,
        "default_pool_id": http_pool}}), 409)
    assert text == f"Pool {http_pool} is already in use by another listener."
    tcp = create(lb_cloud, lb, protocol="TCP", protocol_port=81, default_pool_id=tcp_pool)
    assert tcp["default_pool_id"] == tcp_pool


def test_update_delete_and_immutability(lb_cloud: LbCloud, lb: Body) -> None:
    listener = create(lb_cloud, lb)
    url = f"{LISTENERS}/{listener['id']}"
    demo = lb_cloud.lb(token="demo-token")
    text = fault(demo.put(url, json={"listener": {"name": "n"}}), 409)
    assert text == f"Load Balancer {lb['id']} is immutable and cannot be updated."
    lb_cloud.settle(lb["id"])
    pool = add_pool(lb_cloud, lb["id"], "HTTP")
    updated = ok(demo.put(url, json={"listener": {
        "name": "n", "connection_limit": 100, "default_pool_id": pool,
        "allowed_cidrs": ["10.0.0.0/8"], "timeout_client_data": 1000}}))["listener"]
    assert updated["provisioning_status"] == "PENDING_UPDATE"
    assert (updated["name"], updated["connection_limit"], updated["default_pool_id"],
            updated["allowed_cidrs"], updated["timeout_client_data"]) == \
        ("n", 100, pool, ["10.0.0.0/8"], 1000)
    lb_cloud.settle(lb["id"])
    cleared = ok(demo.put(url, json={"listener": {"default_pool_id": None}}))["listener"]
    assert cleared["default_pool_id"] is None
    lb_cloud.settle(lb["id"])
    fault(demo.put(url, json={"listener": {"protocol_port": 81}}), 400)
    # null clears a name and resets a limit to Octavia's default.
    cleared = ok(demo.put(url, json={"listener": {"name": None, "connection_limit": None}}))
    assert (cleared["listener"]["name"], cleared["listener"]["connection_limit"]) == ("", -1)
    lb_cloud.settle(lb["id"])
    fault(demo.put(url, json={"listener": {"admin_state_up": None}}), 400)
    fault(lb_cloud.lb(token="reader-token").delete(url), 403)
    fault(lb_cloud.lb(token="alt-token").delete(url), 403)
    assert demo.delete(url).status_code == 204
    assert ok(demo.get(url))["listener"]["provisioning_status"] == "PENDING_DELETE"
    lb_cloud.settle(lb["id"])
    assert fault(demo.get(url), 404) == f"Listener {listener['id']} not found."


def test_stats(lb_cloud: LbCloud, lb: Body) -> None:
    listener = create(lb_cloud, lb)
    with lb_cloud.lb_db().write() as session:
        session.add(models.ListenerStatistics(
            listener_id=listener["id"], amphora_id="amp", bytes_in=7, bytes_out=9,
            active_connections=2, total_connections=3, request_errors=1))
    stats = ok(lb_cloud.lb(token="reader-token").get(
        f"{LISTENERS}/{listener['id']}/stats"))["stats"]
    assert stats == {"bytes_in": 7, "bytes_out": 9, "active_connections": 2,
                     "total_connections": 3, "request_errors": 1}


def test_listener_quota(lb_cloud: LbCloud, lb: Body) -> None:
    assert lb_cloud.lb().put("/v2/lbaas/quotas/demo-project",
                             json={"quota": {"listener": 1}}).status_code == 202
    create(lb_cloud, lb)
    lb_cloud.settle(lb["id"])
    text = fault(lb_cloud.lb(token="demo-token").post(LISTENERS, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 81}}), 403)
    assert text == "Quota has been met for resources: Listener"
