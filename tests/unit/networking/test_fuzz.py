"""A bounded schemathesis pass over the networking API: no input makes it fail with a 5xx.

The schema is each application's own OpenAPI document (FastAPI's, OpenAPI
3.1), loaded with ``schemathesis.openapi.from_dict``. Every operation gets
positive cases (valid by the schema) and negative ones (invalid by it), sent
with the admin token through the fixture's in-process transport, so a
region's calls to central are real HTTP calls too. One cloud serves a whole
pass, so state builds up as it would in a real deployment (what one
operation creates, the next one lists, updates or deletes).

Checks on every answer: schemathesis' ``not_a_server_error``, and an error
(4xx) is in Neutron's format. The one 5xx Neutron documents for these calls,
``NoNetworkAvailable`` (503, a segment range is used up), is allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from networking_testing import HOSTS, Cloud, ok
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation

# Bounded: the whole module runs in well under a minute.
FUZZ = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                print_blob=False)
NEGATIVE = settings(FUZZ, max_examples=5)
HEADERS = {"X-Auth-Token": "admin-token"}
DOCUMENTED_5XX = {(503, "NoNetworkAvailable")}

Body = dict[str, Any]


def seed(cloud: Cloud) -> dict[str, str]:
    """A network, subnet, port, security group and rule for cases to find by id."""
    c = cloud.client("CentralRegion")
    net = ok(c.post("/v2.0/networks", json={"network": {"name": "seed"}}), 201)["network"]
    sub = ok(c.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}}), 201)["subnet"]
    port = ok(c.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)["port"]
    sg = ok(c.post("/v2.0/security-groups", json={"security_group": {"name": "seed"}}),
            201)["security_group"]
    rule = ok(c.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22}}), 201)["security_group_rule"]
    return {"networks": net["id"], "subnets": sub["id"], "ports": port["id"],
            "security-groups": sg["id"], "security-group-rules": rule["id"]}


def operations(app: Any) -> Iterator[APIOperation]:
    """The application's operations, deletions last (so they do not starve the rest)."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    found = [result.ok() for result in schema.get_all_operations()]
    found.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    yield from found


def known_ids(op: APIOperation, ids: dict[str, str]) -> dict[str, str] | None:
    """Path parameters naming a seeded resource, for operations on one resource."""
    parts = op.path.split("/")
    if "{resource_id}" not in parts:
        return None
    collection = parts[parts.index("{resource_id}") - 1]
    return {"resource_id": ids[collection]} if collection in ids else None


def send(client: httpx.Client, case: Case) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"),
                                      headers=HEADERS)
    request: dict[str, Any] = {key: kwargs[key] for key in ("params", "json", "cookies")
                               if key in kwargs}
    if "data" in kwargs:
        request["content"] = kwargs["data"]
    return client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"),
                          **request)


def check(case: Case, resp: httpx.Response) -> None:
    body = resp.json() if resp.headers.get("content-type", "").startswith(
        "application/json") and resp.content else None
    if resp.status_code >= 400:
        assert isinstance(body, dict) and set(body) == {"NeutronError"}, \
            (case.method, case.formatted_path, resp.status_code, resp.text)
        assert set(body["NeutronError"]) == {"type", "message", "detail"}, resp.text
        if (resp.status_code, body["NeutronError"]["type"]) in DOCUMENTED_5XX:
            return
    try:
        case.validate_response(resp, checks=[not_a_server_error])
    except FailureGroup as exc:
        raise AssertionError(f"{case.method} {case.formatted_path} query={case.query} "
                             f"body={case.body!r} -> {resp.status_code} {resp.text}") from exc


ID_KEYS = {"network_id", "subnet_id", "security_group_id", "remote_group_id", "security_groups"}


def _safe(text: str) -> str:
    return text or "x"


def _safe_ids(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _safe_ids(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_ids(v, key) for v in value]
    if isinstance(value, str) and key in ID_KEYS:
        return _safe(value)
    return value


def non_empty_ids(case: Case) -> None:
    """No empty ids for a region (see test_region_refuses_empty_ids)."""
    case.path_parameters = {k: _safe(v) if isinstance(v, str) else v
                            for k, v in (case.path_parameters or {}).items()}
    if isinstance(case.body, dict):
        case.body = _safe_ids(case.body)


def fuzz(cloud: Cloud, region: str, subtests: pytest.Subtests) -> int:
    """Run every operation of ``region``'s application; how many operations ran."""
    ids = seed(cloud)
    client = httpx.Client(transport=cloud.router, base_url=f"http://{HOSTS[region]}",
                          headers=HEADERS)
    count = 0
    for op in operations(cloud.apps[region]):
        strategies = [(op.as_strategy(), FUZZ, False)]
        if len(op.body) or "{routing_id}" in op.path:
            # Only a body or an integer id can be made invalid; any string is a valid id.
            strategies.append((op.as_strategy(GenerationMode.NEGATIVE), NEGATIVE, True))
        fixed = known_ids(op, ids)
        if fixed is not None:
            strategies.append((op.as_strategy(path_parameters=fixed), NEGATIVE, False))
        for strategy, limits, negative in strategies:
            @limits
            @given(case=strategy)
            def run(case: Case) -> None:
                if region != "CentralRegion":
                    non_empty_ids(case)
                check(case, send(client, case))

            with subtests.test(operation=op.label, negative=negative):
                try:
                    run()
                except Unsatisfiable:
                    # Nothing in this operation's request can be made invalid.
                    if not negative:
                        raise
        count += 1
    return count


def test_central_api_has_no_server_errors(cloud: Cloud, subtests: pytest.Subtests) -> None:
    assert fuzz(cloud, "CentralRegion", subtests) > 40


def test_region_api_has_no_server_errors(cloud: Cloud, subtests: pytest.Subtests) -> None:
    assert fuzz(cloud, "RegionOne", subtests) > 40


def test_region_quotes_ids(cloud: Cloud) -> None:
    region = cloud.client("RegionOne")
    answers = [region.get("/v2.0/networks/%23").status_code,
               region.get("/v2.0/networks/%3F").status_code,
               region.get("/v2.0/ports/%0F").status_code,
               region.get("/v2.0/quotas/%0F").status_code]
    assert answers == [404, 404, 404, 200]


def test_region_refuses_empty_ids(cloud: Cloud) -> None:
    region = cloud.client("RegionOne")
    answers = [region.post("/v2.0/ports", json={"port": {"network_id": ""}}).status_code,
               region.post("/v2.0/subnets", json={"subnet": {
                   "network_id": "", "cidr": "10.0.0.0/24"}}).status_code,
               region.post("/v2.0/security-group-rules", json={"security_group_rule": {
                   "security_group_id": "", "direction": "egress"}}).status_code]
    assert answers == [404, 404, 404]
