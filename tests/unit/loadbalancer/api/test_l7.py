"""L7 policies and rules through the real Octavia API of RegionOne: actions,
redirect checks, position reordering, rule syntax, cascade."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok
from test_pools import Lb, active_lb

from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.amphora.haproxy_config import render
from tricircle_lb.loadbalancer.controller import amphora_config

Body = dict[str, Any]
POLICIES = "/v2/lbaas/l7policies"
HM_PATH = "/v2/lbaas/healthmonitors"


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Lb:
    return active_lb(lb_cloud)


def policy(lb: Lb, **attrs: Any) -> Body:
    body = {"l7policy": {"listener_id": lb.listener_id, "action": "REJECT", **attrs}}
    created: Body = ok(lb.api.post(POLICIES, json=body), 201)["l7policy"]
    lb.settle()
    return created


def positions(lb: Lb) -> dict[str, int]:
    return {p["name"]: p["position"] for p in ok(lb.api.get(POLICIES))["l7policies"]
            if p["provisioning_status"] != "PENDING_DELETE"}


def test_redirect_to_pool_and_url(lb: Lb) -> None:
    api_pool = lb.pool()
    to_pool = policy(lb, action="REDIRECT_TO_POOL", redirect_pool_id=api_pool["id"])
    assert to_pool["redirect_pool_id"] == api_pool["id"] and to_pool["position"] == 1
    assert to_pool["redirect_url"] is None and to_pool["redirect_http_code"] is None
    to_url = policy(lb, action="REDIRECT_TO_URL", redirect_url="https://example.com/x?a=1")
    assert to_url["redirect_http_code"] == 302 and to_url["position"] == 2
    # Changing the action clears what belonged to the old one.
    changed = ok(lb.api.put(f"{POLICIES}/{to_pool['id']}", json={"l7policy": {
        "action": "REDIRECT_TO_URL", "redirect_url": "http://other.example/",
        "redirect_http_code": 308}}))["l7policy"]
    assert changed["redirect_pool_id"] is None and changed["redirect_http_code"] == 308
    lb.settle()
    rejected = ok(lb.api.put(f"{POLICIES}/{to_url['id']}", json={"l7policy": {
        "action": "REJECT"}}))["l7policy"]
    assert rejected["redirect_url"] is None and rejected["redirect_http_code"] is None


def test_position_reordering(lb: Lb) -> None:
    for name in ("a", "b", "c"):
        policy(lb, name=name)
    assert positions(lb) == {"a": 1, "b": 2, "c": 3}
    first = policy(lb, name="first", position=1)
    assert positions(lb) == {"first": 1, "a": 2, "b": 3, "c": 4}
    policy(lb, name="last", position=99)
    assert positions(lb)["last"] == 5
    c = next(p for p in ok(lb.api.get(POLICIES))["l7policies"] if p["name"] == "c")
    moved = ok(lb.api.put(f"{POLICIES}/{c['id']}", json={"l7policy": {"position": 2}}))
    assert moved["l7policy"]["position"] == 2
    lb.settle()
    assert positions(lb) == {"first": 1, "c": 2, "a": 3, "b": 4, "last": 5}
    assert lb.api.delete(f"{POLICIES}/{first['id']}").status_code == 204
    assert positions(lb) == {"c": 1, "a": 2, "b": 3, "last": 4}
    lb.settle()
    listener = ok(lb.api.get(f"/v2/lbaas/listeners/{lb.listener_id}"))["listener"]
    assert len(listener["l7policies"]) == 4


BAD_POLICIES: list[tuple[Body, int, str]] = [
    ({"action": "REDIRECT_TO_POOL"}, 400, "Invalid L7 Policy arguments: redirect_pool_id or "
     "redirect_pool must not be None"),
    ({"action": "REDIRECT_TO_POOL", "redirect_pool_id": "6f1d3a0e-0000-4000-8000-000000000000"},
     404, "Pool 6f1d3a0e-0000-4000-8000-000000000000 not found."),
    ({"action": "REDIRECT_TO_URL"}, 400,
     "Invalid L7 Policy arguments: redirect_url must not be None"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "/relative"}, 400,
     "Value must be a valid URL string"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "javascript:alert(1)"}, 400,
     "Value must be a valid URL string"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x/\nhttp-request deny"}, 400,
     "Value must be a valid URL string"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x/ y"}, 400,
     "Value must be a valid URL string"),
    ({"action": "REDIRECT_PREFIX"}, 400,
     "Invalid L7 Policy arguments: redirect_prefix must not be None"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x/",
      "redirect_pool_id": "6f1d3a0e-0000-4000-8000-000000000000"}, 404,
     "Pool 6f1d3a0e-0000-4000-8000-000000000000 not found."),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x/", "redirect_http_code": 304},
     400, "redirect_http_code"),
    ({"action": "DROP"}, 400, "action"),
    ({"position": 0}, 400, "position"),
    ({"name": "p\n1"}, 400, "name"),
    ({"listener_id": "6f1d3a0e-0000-4000-8000-000000000000"}, 404,
     "Listener 6f1d3a0e-0000-4000-8000-000000000000 not found."),
]


def test_bad_policies_create_nothing(lb: Lb) -> None:
    for attrs, code, words in BAD_POLICIES:
        body = {"listener_id": lb.listener_id, "action": "REJECT", **attrs}
        text = fault(lb.api.post(POLICIES, json={"l7policy": body}), code)
        assert words in text, (attrs, text)
    assert ok(lb.api.get(POLICIES))["l7policies"] == []


def test_policies_need_http_listeners_and_pools_of_the_same_lb(lb: Lb) -> None:
    tcp = lb.listener("TCP", 81)
    text = fault(lb.api.post(POLICIES, json={"l7policy": {
        "listener_id": tcp, "action": "REJECT"}}), 501)
    assert text == "Provider 'amphora' does not support a requested option: TCP protocol " \
        "listeners do not support L7 policies"
    tcp_pool = lb.pool("TCP")
    text = fault(lb.api.post(POLICIES, json={"l7policy": {
        "listener_id": lb.listener_id, "action": "REDIRECT_TO_POOL",
        "redirect_pool_id": tcp_pool["id"]}}), 400)
    assert "The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'" in text
    other = ok(lb.api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": lb.subnet_id}}), 201)["loadbalancer"]
    lb.cloud.settle(other["id"])
    foreign = ok(lb.api.post("/v2/lbaas/pools", json={"pool": {
        "loadbalancer_id": other["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
        201)["pool"]
    lb.cloud.settle(other["id"])
    text = fault(lb.api.post(POLICIES, json={"l7policy": {
        "listener_id": lb.listener_id, "action": "REDIRECT_TO_POOL",
        "redirect_pool_id": foreign["id"]}}), 404)
    assert text == f"Pool {foreign['id']} not found."  # Octavia's repository check
    assert ok(lb.api.get(POLICIES))["l7policies"] == []


def test_rules_crud_and_cascade(lb: Lb) -> None:
    api_pool = lb.pool()
    p = policy(lb, action="REDIRECT_TO_POOL", redirect_pool_id=api_pool["id"])
    rules = f"{POLICIES}/{p['id']}/rules"
    rule = ok(lb.api.post(rules, json={"rule": {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}}), 201)["rule"]
    assert (rule["key"], rule["invert"], rule["provisioning_status"]) == (
        None, False, "PENDING_CREATE")
    lb.settle()
    header = ok(lb.api.post(rules, json={"rule": {
        "type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Version", "value": "2",
        "invert": True}}), 201)["rule"]
    lb.settle()
    assert ok(lb.api.get(f"{POLICIES}/{p['id']}"))["l7policy"]["rules"] == [
        {"id": rule["id"]}, {"id": header["id"]}]
    # A type without a key drops the key.
    changed = ok(lb.api.put(f"{rules}/{header['id']}", json={"rule": {
        "type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".example.com"}}))["rule"]
    assert changed["key"] is None and changed["invert"] is True
    lb.settle()
    text = fault(lb.api.put(f"{rules}/{header['id']}", json={"rule": {"type": "COOKIE"}}), 400)
    assert text == "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key"
    assert len(ok(lb.api.get(rules))["rules"]) == 2
    assert lb.api.delete(f"{POLICIES}/{p['id']}").status_code == 204
    assert {r["provisioning_status"] for r in ok(lb.api.get(rules))["rules"]} == {
        "PENDING_DELETE"}
    lb.settle()
    assert fault(lb.api.get(rules), 404) == f"L7 Policy {p['id']} not found."
    # The pool is free again.
    assert lb.api.delete(f"/v2/lbaas/pools/{api_pool['id']}").status_code == 204


BAD_RULES: list[tuple[Body, str]] = [
    ({"type": "HEADER"}, "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key"),
    ({"type": "COOKIE", "key": "a b"}, "Error parsing L7Rule: Invalid characters in key"),
    ({"type": "HEADER", "key": "X-A\nB"}, "Invalid characters in key"),
    ({"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "jpg"},
     "Invalid L7 Rule: invalid comparison type for rule type"),
    ({"compare_type": "REGEX", "value": "^/api(["}, "Unable to parse regular expression"),
    ({"value": "/api\nuse_backend x"}, "Invalid characters in comparison value"),
    ({"value": "/a b"}, "Invalid characters in comparison value"),
    ({"value": ""}, "Invalid L7 Rule: L7 rule type requires a value"),
    ({"value": "v" * 256}, "value"),
    ({"type": "COOKIE", "key": "session", "value": "a;b"}, "Invalid characters in cookie value"),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "yes"},
     "L7rule value yes is not a boolean True string."),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "-1"},
     "L7rule type SSL_VERIFY_RESULT needs a int value, which is >= 0"),
    ({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "1CN", "value": "x"},
     "Invalid L7rule distinguished name field."),
    ({"type": "METHOD"}, "type"),
    ({"compare_type": "LIKE"}, "compare_type"),
]


def test_bad_rules_create_nothing(lb: Lb) -> None:
    p = policy(lb)
    rules = f"{POLICIES}/{p['id']}/rules"
    for attrs, words in BAD_RULES:
        body = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api", **attrs}
        text = fault(lb.api.post(rules, json={"rule": body}), 400)
        assert words in text, (attrs, text)
    assert ok(lb.api.get(rules))["rules"] == []


def test_what_the_api_accepts_is_a_valid_haproxy_configuration(lb: Lb, tmp_path: Path) -> None:
    """Edge-of-valid values of every field, through the controller's rendering, to
    the real ``haproxy -c``: the API never stores what HAProxy would refuse."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    api = lb.api
    web = lb.pool(listener=True, lb_algorithm="LEAST_CONNECTIONS", session_persistence={
        "type": "APP_COOKIE", "cookie_name": "JSESSION.id_1"})
    ok(api.post(HM_PATH, json={"healthmonitor": {
        "pool_id": web["id"], "type": "HTTP", "delay": 3, "timeout": 3, "max_retries": 2,
        "http_method": "OPTIONS", "url_path": "/h/a;b=c?d='e'&f=%20(g)",
        "expected_codes": "200, 202"}}), 201)
    lb.settle()
    ok(api.put(f"/v2/lbaas/pools/{web['id']}/members", json={"members": [
        {"address": "10.0.10.11", "protocol_port": 80, "weight": 0},
        {"address": "10.0.10.12", "protocol_port": 80, "backup": True,
         "monitor_address": "10.0.10.13", "monitor_port": 8080},
        {"address": "10.0.20.12", "protocol_port": 65535, "admin_state_up": False}]}), 202)
    lb.settle()
    api_pool = lb.pool(session_persistence={"type": "HTTP_COOKIE"})
    ok(api.post(f"/v2/lbaas/pools/{api_pool['id']}/members", json={"member": {
        "address": "10.0.10.21", "protocol_port": 8080}}), 201)
    lb.settle()
    tcp_listener = lb.listener("TCP", 8443)
    tcp_pool = ok(api.post("/v2/lbaas/pools", json={"pool": {
        "listener_id": tcp_listener, "protocol": "HTTPS", "lb_algorithm": "SOURCE_IP",
        "session_persistence": {"type": "SOURCE_IP"}}}), 201)["pool"]
    lb.settle()
    ok(api.post(HM_PATH, json={"healthmonitor": {
        "pool_id": tcp_pool["id"], "type": "PING", "delay": 1, "timeout": 1,
        "max_retries": 10, "max_retries_down": 1}}), 201)
    lb.settle()
    ok(api.post(f"/v2/lbaas/pools/{tcp_pool['id']}/members", json={"member": {
        "address": "10.0.10.31", "protocol_port": 443}}), 201)
    lb.settle()
    to_pool = policy(lb, action="REDIRECT_TO_POOL", redirect_pool_id=api_pool["id"])
    to_url = policy(lb, action="REDIRECT_TO_URL", redirect_http_code=301,
                    redirect_url="https://example.com/a%20b?q='1'&r=(2)#frag")
    reject = policy(lb, position=1)
    rules = [
        (to_pool, {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}),
        (to_pool, {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Ver",
                   "value": '"two words"'}),
        (to_pool, {"type": "COOKIE", "compare_type": "CONTAINS", "key": "sess",
                   "value": "a=b"}),
        (to_url, {"type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".example.com"}),
        (to_url, {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"}),
        (reject, {"type": "PATH", "compare_type": "REGEX", "invert": True,
                  "value": r"^/v[0-9]+/(a|b)\.x'y\s$"}),
        (reject, {"type": "FILE_TYPE", "compare_type": "REGEX", "value": r"\.(gif|png)$"}),
    ]
    for owner, rule in rules:
        ok(api.post(f"{POLICIES}/{owner['id']}/rules", json={"rule": rule}), 201)
        lb.settle()
    with lb.cloud.lb_db().read() as session:
        row = session.get(models.LoadBalancer, lb.id)
        assert row is not None
        config = amphora_config.build(row)
    text = render(config, stats_socket=tmp_path / "stats.sock",
                  pid_file=tmp_path / "haproxy.pid", open_files_limit=4096)
    (tmp_path / "haproxy.cfg").write_text(text)
    proc = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")],
                          capture_output=True, text=True, timeout=10, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ALERT" not in out, out + "\n" + text
    assert "use_backend" in text and "http-request deny" in text and "stick on src" in text


def test_redirect_prefix_and_actions_follow_octavia(lb: Lb) -> None:
    """REDIRECT_PREFIX is stored (302 by default); an update naming another redirect
    changes the action as Octavia's sanitizer does, and REJECT clears every redirect."""
    p = policy(lb, action="REDIRECT_PREFIX", redirect_prefix="https://example.com")
    assert (p["action"], p["redirect_prefix"], p["redirect_http_code"]) == (
        "REDIRECT_PREFIX", "https://example.com", 302)
    lb.settle()
    path = f"{POLICIES}/{p['id']}"
    moved = ok(lb.api.put(path, json={"l7policy": {"redirect_url": "http://x/y",
                                                    "redirect_http_code": 301}}))["l7policy"]
    assert (moved["action"], moved["redirect_url"], moved["redirect_prefix"],
            moved["redirect_http_code"]) == ("REDIRECT_TO_URL", "http://x/y", None, 301)
    lb.settle()
    assert fault(lb.api.put(path, json={"l7policy": {}}), 400) == \
        "Invalid L7 Policy arguments: Invalid update options"
    rejected = ok(lb.api.put(path, json={"l7policy": {"action": "REJECT"}}))["l7policy"]
    assert (rejected["redirect_url"], rejected["redirect_http_code"]) == (None, None)
    lb.settle()
    ssl = ok(lb.api.post(f"{path}/rules", json={"rule": {
        "type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"}}), 201)
    assert ssl["rule"]["type"] == "SSL_CONN_HAS_CERT"
