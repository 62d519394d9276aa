"""LoadBalancerConfig ⇄ JSON: round trips, and strict refusal of anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tricircle_lb.loadbalancer.amphora import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
)
from tricircle_lb.loadbalancer.amphora.codec import (
    CodecError,
    from_dict,
    from_json,
    to_dict,
    to_json,
)

FULL = LoadBalancerConfig(
    id="lb1", vip_address="10.0.1.10",
    listeners=(
        Listener(id="l1", protocol="HTTP", protocol_port=80, default_pool_id="p1",
                 connection_limit=100, insert_headers={"X-Forwarded-For": True,
                                                       "X-Forwarded-Port": "true"},
                 allowed_cidrs=("10.0.0.0/8",),
                 l7policies=(L7Policy(id="po1", action="REDIRECT_TO_POOL", position=1,
                                      redirect_pool_id="p2",
                                      rules=(L7Rule(id="r1", type="HEADER", key="X-A",
                                                    compare_type="EQUAL_TO", value="b",
                                                    invert=True),)),)),
        Listener(id="l2", protocol="TCP", protocol_port=443, default_pool_id="p2"),
    ),
    pools=(
        Pool(id="p1", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
             members=(Member("m1", "10.0.1.5", 80), Member("m2", "10.0.2.5", 8080, weight=0,
                                                            backup=True, monitor_port=81)),
             session_persistence=SessionPersistence("APP_COOKIE", "JSESSIONID"),
             health_monitor=HealthMonitor("HTTP", 2, 1, 3, expected_codes="200-204")),
        Pool(id="p2", protocol="TCP", lb_algorithm="SOURCE_IP"),
    ),
)


def test_round_trip_keeps_every_field() -> None:
    assert from_json(to_json(FULL)) == FULL
    assert from_dict(json.loads(json.dumps(to_dict(FULL)))) == FULL


def test_missing_optional_keys_take_the_defaults() -> None:
    config = from_dict({"id": "lb1", "vip_address": "10.0.1.10",
                        "listeners": [{"id": "l1", "protocol": "TCP", "protocol_port": 22}]})
    assert config.listeners[0] == Listener(id="l1", protocol="TCP", protocol_port=22)
    assert config.pools == ()


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    body: dict[str, Any] = to_dict(FULL)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(("path", "value", "message"), [
    (["extra"], 1, "config: unknown key(s) extra"),
    (["listeners", 0, "bind"], "x", "config.listeners[0]: unknown key(s) bind"),
    (["listeners", 0, "protocol_port"], "80", "protocol_port: must be an integer"),
    (["listeners", 0, "protocol_port"], True, "protocol_port: must be an integer"),
    (["listeners", 0, "protocol"], "QUIC", "protocol: must be one of HTTP, HTTPS, TCP"),
    (["pools", 0, "members", 0, "backup"], 1, "backup: must be a boolean"),
    (["pools", 0, "members", 0, "address"], None, "address: must be a string"),
    (["pools", 0, "members"], {"m1": {}}, "members: must be an array"),
    (["pools", 0, "health_monitor"], "HTTP", "health_monitor: must be an object"),
    (["listeners", 0, "insert_headers"], [], "insert_headers: must be an object"),
    (["listeners", 0, "insert_headers", "X-Forwarded-For"], 1, "wrong type"),
    (["peers"], [], "peers: must be null"),
])
def test_refuses_what_the_model_does_not_describe(path: list[Any], value: Any,
                                                  message: str) -> None:
    with pytest.raises(CodecError, match=None) as info:
        from_dict(_with(path, value))
    assert message in str(info.value)


def test_refuses_missing_required_keys_and_non_objects() -> None:
    body = to_dict(FULL)
    del body["pools"][0]["members"][0]["id"]
    with pytest.raises(CodecError, match=r"members\[0\]\.id: required"):
        from_dict(body)
    with pytest.raises(CodecError, match="config: must be an object"):
        from_dict([])
    with pytest.raises(CodecError, match="not JSON"):
        from_json(b"{")
