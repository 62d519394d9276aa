"""A bounded schemathesis pass over RegionOne's Octavia API: no input gives a 5xx.

(Named apart from tests/unit/networking/test_fuzz.py: test modules here are
imported by basename, so two files of one name cannot share a run.)

The schema is the application's own OpenAPI document; cases go through the
harness's in-process transport with the admin token, so the load-balancer
service's calls to central and regional networking are real HTTP too. A
seeded tree (load balancer, listener, pool, member, health monitor, L7 policy
and rule) gives the operations on one object real ids to work on; the tree
is made ACTIVE again before each operation, as the controller would, so
updates reach their validation instead of stopping at 409 (immutable).

Checks on every answer: schemathesis' ``not_a_server_error``, and an error
(4xx) is in Octavia's fault format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from lb_testing import LB_HOSTS, LbCloud
from networking_testing import ok
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation

from tricircle_lb.loadbalancer.models import LoadBalancer

# Bounded: ~80 operations, the whole pass well under a minute.
FUZZ = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                print_blob=False)
FEW = settings(FUZZ, max_examples=3)
HEADERS = {"X-Auth-Token": "admin-token"}
FAULT = {"faultcode", "faultstring", "debuginfo"}
V2 = "/v2/lbaas"

Body = dict[str, Any]


def seed(cloud: LbCloud) -> dict[str, str]:
    """A whole load-balancer tree; path parameter name -> id."""
    net = cloud.network("seed")
    subnet = cloud.subnet(net["id"], "10.0.0.0/24")
    lb_api = cloud.lb()
    ids = {"project_id": "admin-project", "provider": "amphora", "name": "az1"}

    def make(path: str, kind: str, param: str, body: Body) -> str:
        made: str = ok(lb_api.post(path, json={kind: body}), 201)[kind]["id"]
        ids[param] = made
        cloud.settle(ids["lb_id"])
        return made

    ids["lb_id"] = ok(lb_api.post(f"{V2}/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": subnet["id"]}}), 201)["loadbalancer"]["id"]
    cloud.settle(ids["lb_id"])
    listener = make(f"{V2}/listeners", "listener", "listener_id", {
        "loadbalancer_id": ids["lb_id"], "protocol": "HTTP", "protocol_port": 80})
    pool = make(f"{V2}/pools", "pool", "pool_id", {
        "listener_id": listener, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"})
    make(f"{V2}/pools/{pool}/members", "member", "member_id", {
        "address": "10.0.0.10", "protocol_port": 8080, "subnet_id": subnet["id"]})
    make(f"{V2}/healthmonitors", "healthmonitor", "hm_id", {
        "pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3})
    policy = make(f"{V2}/l7policies", "l7policy", "l7policy_id", {
        "listener_id": listener, "action": "REJECT"})
    make(f"{V2}/l7policies/{policy}/rules", "rule", "rule_id", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"})
    return ids


def operations(app: Any) -> Iterator[APIOperation]:
    """The application's operations, deletions last (so they do not starve the rest)."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    found = [result.ok() for result in schema.get_all_operations()]
    found.sort(key=lambda op: (op.method.upper() == "DELETE", op.path, op.method))
    yield from found


def known_ids(op: APIOperation, ids: dict[str, str]) -> dict[str, str] | None:
    """Every path parameter of ``op`` set to a seeded object, if all are known."""
    names = [p.name for p in op.path_parameters]
    if not names or any(name not in ids for name in names):
        return None
    return {name: ids[name] for name in names}


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
    where = (case.method, case.formatted_path, case.query, case.body, resp.status_code,
             resp.text)
    if resp.status_code >= 400:
        body = resp.json() if resp.content else None
        assert isinstance(body, dict) and set(body) == FAULT, where
    try:
        case.validate_response(resp, checks=[not_a_server_error])
    except FailureGroup as exc:
        raise AssertionError(where) from exc


def settle(cloud: LbCloud, lb_id: str) -> None:
    """The seeded tree ACTIVE again (what the controller does), while it exists."""
    with cloud.lb_db().read() as session:
        exists = session.get(LoadBalancer, lb_id) is not None
    if exists:
        cloud.settle(lb_id)


def test_octavia_api_has_no_server_errors(lb_cloud: LbCloud,
                                          subtests: pytest.Subtests) -> None:
    ids = seed(lb_cloud)
    client = httpx.Client(transport=lb_cloud.router, base_url=f"http://{LB_HOSTS['RegionOne']}",
                          headers=HEADERS)
    count = 0
    for op in operations(lb_cloud.lb_apps["RegionOne"]):
        strategies = [(op.as_strategy(), FUZZ, False)]
        if len(op.body) or op.query:
            strategies.append((op.as_strategy(GenerationMode.NEGATIVE), FEW, True))
        fixed = known_ids(op, ids)
        if fixed is not None:
            strategies.append((op.as_strategy(path_parameters=fixed), FUZZ, False))
        settle(lb_cloud, ids["lb_id"])
        for strategy, limits, negative in strategies:
            @limits
            @given(case=strategy)
            def run(case: Case) -> None:
                check(case, send(client, case))

            with subtests.test(operation=op.label, negative=negative):
                try:
                    run()
                except Unsatisfiable:
                    # Nothing in this operation's request can be made invalid.
                    if not negative:
                        raise
        count += 1
    assert count > 70
