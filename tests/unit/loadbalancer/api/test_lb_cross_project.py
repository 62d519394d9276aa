"""Issue 10: projects are strangers, through Octavia's REST API of RegionOne.

Project A (demo) owns a whole tree (load balancer, listener, pool, member,
health monitor, L7 policy and rule); project B (alt) owns a load balancer with
a listener and a pool of its own. Every call B makes on A's objects, and every
field of B's requests that names one of A's objects, is refused as Octavia
refuses it (verified in Octavia's controllers, ``_auth_validate_action`` after
``_get_db_*``):

- show, update, delete of another project's object, and anything created under
  it (a listener on A's load balancer, a member in A's pool …): 403 "Policy
  does not allow this request to be performed." (the object is loaded, then
  policy is enforced with its ``project_id``);
- listing with ``?project_id=`` of another project: 403 (``_auth_get_all``);
  listings are the caller's project only, other filters find nothing of A's;
- a pool of another load balancer as a listener's default pool or an L7
  redirect: 404 "Pool <id> not found." (checked on the listener's load balancer);
- a subnet, network or port networking does not show the caller (VIP, member):
  400 "<Kind> <id> not found." (Octavia's ``InvalidSubresource``).

Admin sees and changes everything; A's ``reader`` reads A's objects and writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

Body = dict[str, Any]
API = "/v2/lbaas"
POLICY = "Policy does not allow this request to be performed."


@dataclass
class Tree:
    """One project's objects (ids) and its subnet."""

    lb: str
    listener: str
    pool: str
    subnet: str
    network: str
    port: str = ""
    member: str = ""
    hm: str = ""
    l7policy: str = ""
    l7rule: str = ""


def _made(client: httpx.Client, path: str, key: str, body: Body) -> str:
    made: str = ok(client.post(f"{API}/{path}", json={key: body}), 201)[key]["id"]
    return made


def _tree(cloud: LbCloud, token: str, cidr: str, full: bool) -> Tree:
    api = cloud.lb(token=token)
    net = cloud.network(f"net-{token}", token=token)
    subnet = cloud.subnet(net["id"], cidr, token=token)
    port = ok(cloud.client("CentralRegion", token).post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": "spare"}}), 201)["port"]
    lb = _made(api, "loadbalancers", "loadbalancer", {"vip_subnet_id": subnet["id"]})
    cloud.settle(lb)
    listener = _made(api, "listeners", "listener", {
        "loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80})
    cloud.settle(lb)
    pool = _made(api, "pools", "pool", {"loadbalancer_id": lb, "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN"})
    cloud.settle(lb)
    tree = Tree(lb, listener, pool, subnet["id"], net["id"], port["id"])
    if not full:
        return tree
    tree.member = _made(api, f"pools/{pool}/members", "member", {
        "address": cidr.replace("0/24", "10"), "protocol_port": 8080,
        "subnet_id": subnet["id"]})
    cloud.settle(lb)
    tree.hm = _made(api, "healthmonitors", "healthmonitor", {
        "pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2})
    cloud.settle(lb)
    tree.l7policy = _made(api, "l7policies", "l7policy", {
        "listener_id": listener, "action": "REDIRECT_TO_POOL", "redirect_pool_id": pool})
    cloud.settle(lb)
    tree.l7rule = _made(api, f"l7policies/{tree.l7policy}/rules", "rule", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"})
    cloud.settle(lb)
    return tree


@pytest.fixture
def trees(lb_cloud: LbCloud) -> tuple[Tree, Tree]:
    """(A's full tree, B's load balancer with a listener and a pool)."""
    return (_tree(lb_cloud, "demo-token", "10.0.1.0/24", full=True),
            _tree(lb_cloud, "alt-token", "10.0.2.0/24", full=False))


def objects(a: Tree) -> list[tuple[str, str, str, Body]]:
    """(collection path, id, body key, a valid update) of each of A's objects."""
    return [
        ("loadbalancers", a.lb, "loadbalancer", {"name": "x"}),
        ("listeners", a.listener, "listener", {"name": "x"}),
        ("pools", a.pool, "pool", {"name": "x"}),
        (f"pools/{a.pool}/members", a.member, "member", {"name": "x"}),
        ("healthmonitors", a.hm, "healthmonitor", {"name": "x"}),
        ("l7policies", a.l7policy, "l7policy", {"name": "x"}),
        (f"l7policies/{a.l7policy}/rules", a.l7rule, "rule", {"value": "/b"}),
    ]


def test_another_project_is_refused_every_object(lb_cloud: LbCloud,
                                                 trees: tuple[Tree, Tree]) -> None:
    a, _ = trees
    alt = lb_cloud.lb(token="alt-token")
    for path, object_id, key, change in objects(a):
        url = f"{API}/{path}/{object_id}"
        assert fault(alt.get(url), 403) == POLICY, url
        assert fault(alt.put(url, json={key: change}), 403) == POLICY, url
        assert fault(alt.delete(url), 403) == POLICY, url
    for url in (f"{API}/loadbalancers/{a.lb}/status", f"{API}/loadbalancers/{a.lb}/stats",
                f"{API}/listeners/{a.listener}/stats", f"{API}/pools/{a.pool}/members",
                f"{API}/l7policies/{a.l7policy}/rules"):
        assert fault(alt.get(url), 403) == POLICY, url
    fault(alt.put(f"{API}/loadbalancers/{a.lb}/failover"), 403)
    fault(alt.delete(f"{API}/loadbalancers/{a.lb}", params={"cascade": "true"}), 403)
    fault(alt.put(f"{API}/pools/{a.pool}/members", json={"members": []}), 403)
    # Nothing changed, nothing is pending.
    admin = lb_cloud.lb()
    for path, object_id, key, _ in objects(a):
        shown = ok(admin.get(f"{API}/{path}/{object_id}"))[key]
        assert shown["provisioning_status"] == "ACTIVE", (path, shown)
        assert shown.get("name", "") != "x"


def test_listings_are_the_callers_project_only(lb_cloud: LbCloud,
                                               trees: tuple[Tree, Tree]) -> None:
    a, b = trees
    alt = lb_cloud.lb(token="alt-token")
    mine = {"loadbalancers": {b.lb}, "listeners": {b.listener}, "pools": {b.pool},
            "healthmonitors": set(), "l7policies": set()}
    theirs = {"loadbalancers": a.lb, "listeners": a.listener, "pools": a.pool,
              "healthmonitors": a.hm, "l7policies": a.l7policy}
    for collection, ids in mine.items():
        url = f"{API}/{collection}"
        assert {o["id"] for o in ok(alt.get(url))[collection]} == ids, collection
        # Filters find nothing of A's …
        for params in ({"id": theirs[collection]}, {"project_id": "alt-project"}):
            found = {o["id"] for o in ok(alt.get(url, params=params))[collection]}
            assert theirs[collection] not in found, (collection, params)
        # … and asking for A's project is Octavia's 403.
        assert fault(alt.get(url, params={"project_id": "demo-project"}), 403) == POLICY
    everything_of_a = set(theirs.values()) | {a.member, a.l7rule}
    for params in ({"loadbalancer_id": a.lb}, {"pool_id": a.pool},
                   {"listener_id": a.listener}, {"vip_subnet_id": a.subnet}):
        for collection in mine:
            found = {o["id"] for o in ok(alt.get(f"{API}/{collection}",
                                                 params=params))[collection]}
            assert not found & everything_of_a, (collection, params)
    # Quotas: its own only; A's quota is A's business.
    assert [q["project_id"] for q in ok(alt.get(f"{API}/quotas"))["quotas"]] in ([], [
        "alt-project"])
    fault(alt.get(f"{API}/quotas", params={"project_id": "demo-project"}), 403)
    for url in (f"{API}/quotas/demo-project", f"{API}/quotas/demo-project/default"):
        assert fault(alt.get(url), 403) == POLICY
    fault(alt.put(f"{API}/quotas/demo-project", json={"quota": {"pool": 1}}), 403)
    fault(alt.delete(f"{API}/quotas/demo-project"), 403)
    ok(alt.get(f"{API}/quotas/alt-project"))


def test_fields_naming_another_projects_objects(lb_cloud: LbCloud,
                                                trees: tuple[Tree, Tree]) -> None:
    a, b = trees
    alt = lb_cloud.lb(token="alt-token")

    def post(path: str, key: str, body: Body, status: int) -> str:
        return fault(alt.post(f"{API}/{path}", json={key: body}), status)

    # Parents of another project: Octavia loads them, then refuses (403).
    assert post("listeners", "listener", {"loadbalancer_id": a.lb, "protocol": "HTTP",
                                          "protocol_port": 81}, 403) == POLICY
    assert post("pools", "pool", {"loadbalancer_id": a.lb, "protocol": "HTTP",
                                  "lb_algorithm": "ROUND_ROBIN"}, 403) == POLICY
    assert post("pools", "pool", {"listener_id": a.listener, "protocol": "HTTP",
                                  "lb_algorithm": "ROUND_ROBIN"}, 403) == POLICY
    assert post(f"pools/{a.pool}/members", "member", {
        "address": "10.0.2.20", "protocol_port": 80}, 403) == POLICY
    assert post("healthmonitors", "healthmonitor", {
        "pool_id": a.pool, "type": "HTTP", "delay": 5, "timeout": 3,
        "max_retries": 2}, 403) == POLICY
    assert post("l7policies", "l7policy", {"listener_id": a.listener,
                                           "action": "REJECT"}, 403) == POLICY
    assert post(f"l7policies/{a.l7policy}/rules", "rule", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/x"}, 403) == POLICY
    # A's pool as B's default pool or redirect: not on B's load balancer (404).
    gone = f"Pool {a.pool} not found."
    assert post("listeners", "listener", {
        "loadbalancer_id": b.lb, "protocol": "HTTP", "protocol_port": 82,
        "default_pool_id": a.pool}, 404) == gone
    assert fault(alt.put(f"{API}/listeners/{b.listener}", json={"listener": {
        "default_pool_id": a.pool}}), 404) == gone
    assert post("l7policies", "l7policy", {
        "listener_id": b.listener, "action": "REDIRECT_TO_POOL",
        "redirect_pool_id": a.pool}, 404) == gone
    # A's subnet, network and port do not exist for B (networking asked with B's token;
    # a member's subnet is Octavia's NotFound, 404).
    assert post(f"pools/{b.pool}/members", "member", {
        "address": "10.0.1.30", "protocol_port": 80, "subnet_id": a.subnet}, 404) == \
        f"Subnet {a.subnet} not found."
    fault(alt.put(f"{API}/pools/{b.pool}/members", json={"members": [{
        "address": "10.0.1.30", "protocol_port": 80, "subnet_id": a.subnet}]}), 404)
    for attrs, what in (({"vip_subnet_id": a.subnet}, f"Subnet {a.subnet}"),
                        ({"vip_network_id": a.network}, f"Network {a.network}"),
                        ({"vip_port_id": a.port}, f"Port {a.port}")):
        assert post("loadbalancers", "loadbalancer", attrs, 400) == f"{what} not found."
    assert post("loadbalancers", "loadbalancer", {
        "vip_subnet_id": b.subnet, "project_id": "demo-project"}, 403) == POLICY
    # Nothing of B's changed: its listener has no default pool, no policy was made.
    listener = ok(alt.get(f"{API}/listeners/{b.listener}"))["listener"]
    assert listener["default_pool_id"] is None and listener["l7policies"] == []
    assert ok(alt.get(f"{API}/pools/{b.pool}/members"))["members"] == []


def test_admin_sees_and_changes_everything(lb_cloud: LbCloud,
                                           trees: tuple[Tree, Tree]) -> None:
    a, b = trees
    admin = lb_cloud.lb()
    for path, object_id, key, _ in objects(a):
        assert ok(admin.get(f"{API}/{path}/{object_id}"))[key]["id"] == object_id
    lbs = {o["id"] for o in ok(admin.get(f"{API}/loadbalancers"))["loadbalancers"]}
    assert {a.lb, b.lb} <= lbs
    only_a = ok(admin.get(f"{API}/loadbalancers", params={"project_id": "demo-project"}))
    assert [o["id"] for o in only_a["loadbalancers"]] == [a.lb]
    ok(admin.get(f"{API}/loadbalancers/{a.lb}/status"))
    ok(admin.get(f"{API}/quotas/demo-project"))
    ok(admin.get("/v2/octavia/amphorae"))
    renamed = ok(admin.put(f"{API}/pools/{a.pool}", json={"pool": {"name": "by-admin"}}))
    assert renamed["pool"]["name"] == "by-admin"
    lb_cloud.settle(a.lb)
    assert admin.delete(f"{API}/l7policies/{a.l7policy}").status_code == 204


def test_reader_reads_its_project_and_writes_nothing(lb_cloud: LbCloud,
                                                     trees: tuple[Tree, Tree]) -> None:
    a, b = trees
    reader = lb_cloud.lb(token="reader-token")  # a reader of A's project
    for path, object_id, key, change in objects(a):
        url = f"{API}/{path}/{object_id}"
        assert ok(reader.get(url))[key]["id"] == object_id
        assert fault(reader.put(url, json={key: change}), 403) == POLICY
        assert fault(reader.delete(url), 403) == POLICY
    assert [o["id"] for o in ok(reader.get(f"{API}/loadbalancers"))["loadbalancers"]] == \
        [a.lb]
    ok(reader.get(f"{API}/loadbalancers/{a.lb}/status"))
    ok(reader.get(f"{API}/loadbalancers/{a.lb}/stats"))
    ok(reader.get(f"{API}/quotas/demo-project"))
    assert fault(reader.post(f"{API}/pools", json={"pool": {
        "loadbalancer_id": a.lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
        403) == POLICY
    # B's objects are as closed to A's reader as A's are to B.
    assert fault(reader.get(f"{API}/loadbalancers/{b.lb}"), 403) == POLICY


def test_admin_only_and_global_resources(lb_cloud: LbCloud,
                                         trees: tuple[Tree, Tree]) -> None:
    admin = lb_cloud.lb()
    profile = ok(admin.post(f"{API}/flavorprofiles", json={"flavorprofile": {
        "name": "fp", "provider_name": "amphora", "flavor_data": "{}"}}), 201)["flavorprofile"]
    flavor = ok(admin.post(f"{API}/flavors", json={"flavor": {
        "name": "f", "flavor_profile_id": profile["id"]}}), 201)["flavor"]
    for token in ("alt-token", "reader-token"):
        caller = lb_cloud.lb(token=token)
        # Flavors, zones and providers are everyone's to read and no one's to change.
        assert ok(caller.get(f"{API}/flavors/{flavor['id']}"))["flavor"]["id"] == flavor["id"]
        ok(caller.get(f"{API}/availabilityzones"))
        ok(caller.get(f"{API}/providers"))
        fault(caller.put(f"{API}/flavors/{flavor['id']}", json={"flavor": {"name": "x"}}),
              403)
        fault(caller.delete(f"{API}/flavors/{flavor['id']}"), 403)
        fault(caller.post(f"{API}/flavors", json={"flavor": {
            "name": "g", "flavor_profile_id": profile["id"]}}), 403)
        # Profiles and amphorae are the operator's.
        for url in (f"{API}/flavorprofiles", f"{API}/flavorprofiles/{profile['id']}",
                    f"{API}/availabilityzoneprofiles", "/v2/octavia/amphorae"):
            assert fault(caller.get(url), 403) == POLICY, (token, url)
        fault(caller.put("/v2/octavia/amphorae/x/failover"), 403)


def test_the_lbaas_v2_proxy_keeps_octavias_answers(lb_cloud: LbCloud,
                                                   trees: tuple[Tree, Tree]) -> None:
    """Neutron's LBaaS v2 API of RegionOne forwards B's token: Octavia's rules decide
    (decision 071), so B meets the same refusals there, in Neutron's error format."""
    a, b = trees
    alt = lb_cloud.client("RegionOne", "alt-token")
    neutron = "/v2.0/lbaas"
    for path, object_id, key, change in objects(a):
        url = f"{neutron}/{path}/{object_id}"
        for resp in (alt.get(url), alt.put(url, json={key: change}), alt.delete(url)):
            assert resp.status_code == 403, (url, resp.text)
            assert resp.json()["NeutronError"] == {
                "type": "NotAuthorized", "message": POLICY, "detail": ""}
    for url in (f"{neutron}/loadbalancers/{a.lb}/statuses",
                f"{neutron}/loadbalancers/{a.lb}/stats", f"{neutron}/pools/{a.pool}/members"):
        assert alt.get(url).status_code == 403, url
    assert {o["id"] for o in ok(alt.get(f"{neutron}/loadbalancers"))["loadbalancers"]} == \
        {b.lb}
    made = alt.post(f"{neutron}/pools/{b.pool}/members", json={"member": {
        "address": "10.0.1.30", "protocol_port": 80, "subnet_id": a.subnet}})
    assert made.status_code == 404
    assert made.json()["NeutronError"]["message"] == f"Subnet {a.subnet} not found."
    made = alt.post(f"{neutron}/listeners", json={"listener": {
        "loadbalancer_id": a.lb, "protocol": "HTTP", "protocol_port": 81}})
    assert made.status_code == 403
    reader = lb_cloud.client("RegionOne", "reader-token")
    assert ok(reader.get(f"{neutron}/loadbalancers/{a.lb}"))["loadbalancer"]["id"] == a.lb
    assert reader.put(f"{neutron}/loadbalancers/{a.lb}", json={"loadbalancer": {
        "name": "x"}}).status_code == 403
    admin = lb_cloud.client("RegionOne")
    assert ok(admin.get(f"{neutron}/pools/{a.pool}"))["pool"]["tenant_id"] == "demo-project"
