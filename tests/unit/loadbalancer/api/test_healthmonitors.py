"""Health monitors through the real Octavia API of RegionOne: defaults per
type, one per pool, and every field that could break the HAProxy check."""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok
from test_pools import Lb, active_lb

Body = dict[str, Any]
HM = "/v2/lbaas/healthmonitors"


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Lb:
    return active_lb(lb_cloud)


def monitor(pool: str, **attrs: Any) -> Body:
    return {"healthmonitor": {"pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3,
                              "max_retries": 3, **attrs}}


def test_http_defaults_one_per_pool_update_delete(lb: Lb) -> None:
    pool = lb.pool(listener=True)
    hm = ok(lb.api.post(HM, json=monitor(pool["id"], name="hm1")), 201)["healthmonitor"]
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == ("GET", "/", "200")
    assert hm["max_retries_down"] == 3 and hm["pools"] == [{"id": pool["id"]}]
    assert hm["provisioning_status"] == "PENDING_CREATE"
    assert ok(lb.api.get(f"/v2/lbaas/pools/{pool['id']}"))["pool"][
        "healthmonitor_id"] == hm["id"]
    lb.settle()
    assert fault(lb.api.post(HM, json=monitor(pool["id"])), 409) == \
        "This pool already has a health monitor"
    path = f"{HM}/{hm['id']}"
    updated = ok(lb.api.put(path, json={"healthmonitor": {
        "url_path": "/healthz?full=1", "expected_codes": "200, 202", "http_method": "HEAD",
        "max_retries_down": 10}}))["healthmonitor"]
    assert (updated["url_path"], updated["expected_codes"]) == ("/healthz?full=1", "200,202")
    assert updated["http_method"] == "HEAD" and updated["max_retries_down"] == 10
    lb.settle()
    reset = ok(lb.api.put(path, json={"healthmonitor": {"url_path": None}}))["healthmonitor"]
    assert reset["url_path"] == "/"
    lb.settle()
    assert "type" in fault(lb.api.put(path, json={"healthmonitor": {"type": "TCP"}}), 400)
    # Octavia has no rule between timeout and delay.
    longer = ok(lb.api.put(path, json={"healthmonitor": {"timeout": 6}}))["healthmonitor"]
    assert (longer["delay"], longer["timeout"]) == (5, 6)
    lb.settle()
    assert fault(lb.api.put(path, json={"healthmonitor": {"delay": None}}), 400) == \
        "None is not a valid option for delay"
    assert lb.api.delete(path).status_code == 204
    lb.settle()
    assert fault(lb.api.get(path), 404) == f"Health Monitor {hm['id']} not found."


def test_tcp_and_ping_take_no_http_fields(lb: Lb) -> None:
    tcp_pool, ping_pool = lb.pool("TCP"), lb.pool("TCP")
    tcp = ok(lb.api.post(HM, json=monitor(tcp_pool["id"], type="TCP")), 201)["healthmonitor"]
    assert (tcp["http_method"], tcp["url_path"], tcp["expected_codes"]) == (None, None, None)
    lb.settle()
    text = fault(lb.api.put(f"{HM}/{tcp['id']}", json={"healthmonitor": {
        "http_method": "GET"}}), 400)
    assert text == "http_method is not a valid option for health monitors of type TCP"
    for field, value in (("url_path", "/"), ("expected_codes", "200"),
                         ("http_method", "GET")):
        text = fault(lb.api.post(HM, json=monitor(ping_pool["id"], type="PING",
                                                  **{field: value})), 400)
        assert text == f"{field} is not a valid option for health monitors of type PING"
    ok(lb.api.post(HM, json=monitor(ping_pool["id"], type="PING")), 201)


BAD_MONITORS: list[tuple[Body, str]] = [
    ({"type": "UDP-CONNECT"},
     "Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP."),
    ({"type": "SCTP"}, "only supported for pools of type UDP/SCTP"),
    ({"type": "ICMP"}, "type"),
    ({"delay": -1}, "delay"),
    ({"timeout": -1}, "timeout"),
    ({"max_retries": 0}, "max_retries"),
    ({"max_retries": 11}, "max_retries"),
    ({"max_retries_down": 11}, "max_retries_down"),
    ({"http_method": "FETCH"}, "http_method"),
    ({"url_path": "health"}, "Value must be a valid URL Path string"),
    ({"url_path": "/a b"}, "Value must be a valid URL Path string"),
    ({"url_path": "/\nbackend evil"}, "Value must be a valid URL Path string"),
    ({"url_path": "http://example.com/"}, "Value must be a valid URL Path string"),
    ({"expected_codes": "20"}, "expected_codes"),
    ({"expected_codes": "200-"}, "expected_codes"),
    ({"expected_codes": "abc"}, "expected_codes"),
    ({"domain_name": "example.com"}, "'http_version' must be specified when 'domain_name'"),
    ({"domain_name": "example.com", "http_version": 1.0},
     "http_version 1.0 is not a valid option for health monitors HTTP 1.1 domain name "
     "health check"),
    ({"domain_name": "bad name\n", "http_version": 1.1}, "domain_name"),
    ({"http_version": 2.0}, "Value should be one of: 1.0, 1.1"),
    ({"name": "hm\n1"}, "name"),
    ({"pool_id": "6f1d3a0e-0000-4000-8000-000000000000"}, "not found"),
]


def test_bad_monitors_create_nothing(lb: Lb) -> None:
    pool = lb.pool()
    for attrs, words in BAD_MONITORS:
        code = 404 if "pool_id" in attrs else 400
        text = fault(lb.api.post(HM, json=monitor(pool["id"], **attrs)), code)
        assert words in text, (attrs, text)
    assert ok(lb.api.get(HM))["healthmonitors"] == []
    assert ok(lb.api.get(f"/v2/lbaas/loadbalancers/{lb.id}"))["loadbalancer"][
        "provisioning_status"] == "ACTIVE"


def test_https_range_and_domain(lb: Lb) -> None:
    pool = lb.pool("HTTPS")
    hm = ok(lb.api.post(HM, json=monitor(pool["id"], type="HTTPS", expected_codes="200-204",
                                         http_version=1.1, domain_name="app.example.com")),
            201)["healthmonitor"]
    assert (hm["expected_codes"], hm["http_version"], hm["domain_name"]) == (
        "200-204", 1.1, "app.example.com")


def test_timeout_may_exceed_delay_and_zero_is_allowed(lb: Lb) -> None:
    """Octavia's types: delay and timeout ≥ 0, nothing between them."""
    pool = lb.pool()
    hm = ok(lb.api.post(HM, json=monitor(pool["id"], delay=2, timeout=10)), 201)
    assert (hm["healthmonitor"]["delay"], hm["healthmonitor"]["timeout"]) == (2, 10)


def test_tls_hello_and_udp_monitors(lb: Lb) -> None:
    """TLS-HELLO on a TCP pool; a UDP pool takes UDP-CONNECT (delay ≥ 3), TCP and HTTP;
    SCTP monitors are the provider's unsupported option (501)."""
    tls = ok(lb.api.post(HM, json=monitor(lb.pool("HTTPS")["id"], type="TLS-HELLO")), 201)
    assert tls["healthmonitor"]["http_method"] is None
    lb.settle()
    udp_pool = lb.pool("UDP")
    text = fault(lb.api.post(HM, json=monitor(udp_pool["id"], type="PING")), 400)
    assert text == ("Validation failure: The associated pool protocol is UDP, so only a "
                    "UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.")
    text = fault(lb.api.post(HM, json=monitor(udp_pool["id"], type="UDP-CONNECT", delay=2)),
                 400)
    assert text == ("Validation failure: The request delay value 2 should be larger than 3 "
                    "for UDP-CONNECT health monitor type.")
    text = fault(lb.api.post(HM, json=monitor(udp_pool["id"], type="SCTP")), 501)
    assert text.startswith("Provider 'amphora' does not support a requested option: ")
    hm = ok(lb.api.post(HM, json=monitor(udp_pool["id"], type="UDP-CONNECT")), 201)
    assert hm["healthmonitor"]["type"] == "UDP-CONNECT"
