"""Flavors and flavor profiles over the real Octavia API of RegionOne: CRUD,
RBAC, Octavia's validation, and the topology a flavor gives a load balancer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models

FPS = "/v2/lbaas/flavorprofiles"
FLAVORS = "/v2/lbaas/flavors"
LBS = "/v2/lbaas/loadbalancers"
ACTIVE_STANDBY = json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})
Body = dict[str, Any]


def profile(cloud: LbCloud, name: str = "act-stdby", data: str = ACTIVE_STANDBY,
            provider: str = "amphora") -> Body:
    result: Body = ok(cloud.lb().post(FPS, json={"flavorprofile": {
        "name": name, "provider_name": provider, "flavor_data": data}}), 201)["flavorprofile"]
    return result


def flavor(cloud: LbCloud, profile_id: str, name: str = "ha", **attrs: Any) -> Body:
    result: Body = ok(cloud.lb().post(FLAVORS, json={"flavor": {
        "name": name, "flavor_profile_id": profile_id, **attrs}}), 201)["flavor"]
    return result


@pytest.fixture
def subnet_id(lb_cloud: LbCloud) -> str:
    net = lb_cloud.network("net1", token="demo-token")
    sub: Body = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    return str(sub["id"])


def create_lb(cloud: LbCloud, subnet_id: str, **attrs: Any) -> Any:
    return cloud.lb(token="demo-token").post(LBS, json={"loadbalancer": {
        "vip_subnet_id": subnet_id, **attrs}})


def topology(cloud: LbCloud, lb_id: str) -> str:
    with cloud.lb_db().read() as session:
        lb = session.get(models.LoadBalancer, lb_id)
        assert lb is not None
        return str(lb.topology)


def test_profile_and_flavor_crud(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    fp = profile(lb_cloud)
    assert fp["name"] == "act-stdby" and fp["provider_name"] == "amphora"
    assert fp["flavor_data"] == ACTIVE_STANDBY  # the text as given, as Octavia shows it
    assert ok(admin.get(f"{FPS}/{fp['id']}"))["flavorprofile"] == fp
    listed = ok(admin.get(FPS))
    assert listed == {"flavorprofiles": [fp], "flavorprofile_links": []}
    single = json.dumps({"loadbalancer_topology": "SINGLE"})
    changed = ok(admin.put(f"{FPS}/{fp['id']}", json={"flavorprofile": {
        "name": "renamed", "flavor_data": single}}))["flavorprofile"]
    assert (changed["name"], changed["flavor_data"]) == ("renamed", single)

    fl = flavor(lb_cloud, fp["id"], description="Two amphorae, VRRP")
    assert fl == {"id": fl["id"], "name": "ha", "description": "Two amphorae, VRRP",
                  "enabled": True, "flavor_profile_id": fp["id"]}
    assert ok(admin.get(f"{FLAVORS}/{fl['id']}", params={"fields": "name"})) == {
        "flavor": {"name": "ha"}}
    off = ok(admin.put(f"{FLAVORS}/{fl['id']}", json={"flavor": {"enabled": False}}))
    assert off["flavor"]["enabled"] is False
    assert [f["id"] for f in ok(admin.get(FLAVORS, params={"enabled": "false"}))[
        "flavors"]] == [fl["id"]]
    assert ok(admin.get(FLAVORS, params={"enabled": "true"}))["flavors"] == []

    assert admin.delete(f"{FLAVORS}/{fl['id']}").status_code == 204
    assert fault(admin.get(f"{FLAVORS}/{fl['id']}"), 404) == (
        f"Flavor {fl['id']} not found.")
    assert admin.delete(f"{FPS}/{fp['id']}").status_code == 204
    assert fault(admin.delete(f"{FPS}/{fp['id']}"), 404) == (
        f"Flavor profile {fp['id']} not found.")


def test_rbac(lb_cloud: LbCloud) -> None:
    fp = profile(lb_cloud)
    fl = flavor(lb_cloud, fp["id"])
    for token in ("demo-token", "reader-token"):
        user = lb_cloud.lb(token=token)
        # Flavors are what users choose from: readable by any member or reader.
        assert [f["id"] for f in ok(user.get(FLAVORS))["flavors"]] == [fl["id"]]
        assert ok(user.get(f"{FLAVORS}/{fl['id']}"))["flavor"]["name"] == "ha"
        fault(user.post(FLAVORS, json={"flavor": {"name": "x",
                                                  "flavor_profile_id": fp["id"]}}), 403)
        fault(user.put(f"{FLAVORS}/{fl['id']}", json={"flavor": {"name": "x"}}), 403)
        fault(user.delete(f"{FLAVORS}/{fl['id']}"), 403)
        # Profiles hold the provider's settings: administrators only.
        fault(user.get(FPS), 403)
        fault(user.get(f"{FPS}/{fp['id']}"), 403)
        fault(user.post(FPS, json={"flavorprofile": {
            "name": "x", "provider_name": "amphora", "flavor_data": "{}"}}), 403)
        fault(user.put(f"{FPS}/{fp['id']}", json={"flavorprofile": {"name": "x"}}), 403)
        fault(user.delete(f"{FPS}/{fp['id']}"), 403)
        fault(user.get("/v2/lbaas/providers/amphora/flavor_capabilities"), 403)
    fault(lb_cloud.lb(token="nobody").get(FLAVORS), 401)


def test_flavor_capabilities(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    caps = ok(admin.get("/v2/lbaas/providers/amphora/flavor_capabilities"))
    # Octavia's amphora flavor schema.
    assert [c["name"] for c in caps["flavor_capabilities"]] == [
        "loadbalancer_topology", "compute_flavor", "amp_image_tag", "sriov_vip",
        "allow_member_sriov"]
    assert "ACTIVE_STANDBY" in caps["flavor_capabilities"][0]["description"]
    assert ok(admin.get("/v2/lbaas/providers/octavia/flavor_capabilities",
                        params={"name": "no_such"})) == {"flavor_capabilities": []}
    assert ok(admin.get("/v2/lbaas/providers/amphora/flavor_capabilities",
                        params={"name": "compute_flavor", "fields": "name"})) == {
        "flavor_capabilities": [{"name": "compute_flavor"}]}
    assert fault(admin.get("/v2/lbaas/providers/f5/flavor_capabilities"), 400) == (
        "Provider 'f5' is not enabled.")


# What the provider refuses is Octavia's 501.
UNSUPPORTED_PROFILES: list[tuple[Body, str]] = [
    ({"flavor_data": '{"hello": "world"}'},
     "Provider 'amphora' does not support a requested option: Additional properties are "
     "not allowed ('hello' was unexpected)"),
    ({"flavor_data": '{"loadbalancer_topology": "TRIPLE"}'},
     "Provider 'amphora' does not support a requested option: loadbalancer_topology "
     "'TRIPLE' is not one of ['SINGLE', 'ACTIVE_STANDBY']"),
    ({"flavor_data": '["SINGLE"]'}, "['SINGLE'] is not of type 'object'"),
    ({"flavor_data": '{"compute_flavor": "m1"}'},
     "compute_flavor is not supported by this deployment's amphora provider"),
]

BAD_PROFILES: list[tuple[Body, str]] = [
    ({"flavor_data": '{hello: "world"}'}, '{hello: "world"} is not a valid option for flavor_data'),
    ({"flavor_data": "n" * 4097}, "flavor_data"),
    ({"flavor_data": "[" * 4000}, "is not a valid option for flavor_data"),
    ({"provider_name": "f5"}, "Provider 'f5' is not enabled."),
    ({"name": "n" * 256}, "name"),
    ({"name": None}, "Invalid input for field/attribute name. Value: 'None'. "
                     "Mandatory field missing."),
    ({"bogus": 1}, "Unknown attribute for argument flavorprofile: bogus"),
]


def test_bad_profiles_create_nothing(lb_cloud: LbCloud) -> None:
    cases = [(a, 501, t) for a, t in UNSUPPORTED_PROFILES] + [(a, 400, t) for a, t in BAD_PROFILES]
    for attrs, status, text in cases:
        body = {"name": "p", "provider_name": "amphora", "flavor_data": "{}", **attrs}
        body = {k: v for k, v in body.items() if v is not None}  # None: left out
        assert text in fault(lb_cloud.lb().post(FPS, json={"flavorprofile": body}), status)
    assert ok(lb_cloud.lb().get(FPS))["flavorprofiles"] == []
    fp = profile(lb_cloud, "plain", "{}", provider="octavia")  # the alias and no settings
    assert fp["provider_name"] == "octavia"


BAD_FLAVORS: list[tuple[Body, str]] = [
    ({"flavor_profile_id": "bogus"}, "Invalid input for field/attribute flavor_profile_id. "
                                     "Value: 'bogus'. Value should be UUID format"),
    ({"flavor_profile_id": "5e0b9e5b-1a3c-4f51-9c3e-3c4e4d4b9a11"},
     "Validation failure: Flavor profile 5e0b9e5b-1a3c-4f51-9c3e-3c4e4d4b9a11 could not be "
     "found."),
    ({"name": None}, "Invalid input for field/attribute name. Value: 'None'. "
                     "Mandatory field missing."),
    ({"description": "d" * 256}, "description"),
    ({"enabled": "maybe"}, "enabled"),
]


def test_bad_flavors_create_nothing(lb_cloud: LbCloud) -> None:
    fp = profile(lb_cloud)
    for attrs, text in BAD_FLAVORS:
        body = {"name": "f", "flavor_profile_id": fp["id"], **attrs}
        body = {k: v for k, v in body.items() if v is not None}  # None: left out
        assert text in fault(lb_cloud.lb().post(FLAVORS, json={"flavor": body}), 400)
    assert ok(lb_cloud.lb().get(FLAVORS))["flavors"] == []


def test_names_and_nulls_on_update(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    fp = profile(lb_cloud)
    first = flavor(lb_cloud, fp["id"], "first")
    flavor(lb_cloud, fp["id"], "second")
    resp = admin.post(FLAVORS, json={"flavor": {"name": "first",
                                                "flavor_profile_id": fp["id"]}})
    assert fault(resp, 409) == "A flavor of first already exists."
    resp = admin.put(f"{FLAVORS}/{first['id']}", json={"flavor": {"name": "second"}})
    assert fault(resp, 409) == "A flavor of second already exists."
    # Keeping its own name is no clash.
    ok(admin.put(f"{FLAVORS}/{first['id']}", json={"flavor": {"name": "first"}}))
    assert fault(admin.put(f"{FLAVORS}/{first['id']}", json={"flavor": {"name": None}}),
                 400) == "None is not a valid option for name"
    for name in ("name", "provider_name", "flavor_data"):
        resp = admin.put(f"{FPS}/{fp['id']}", json={"flavorprofile": {name: None}})
        assert fault(resp, 400) == f"None is not a valid option for {name}"
    resp = admin.put(f"{FPS}/{fp['id']}", json={"flavorprofile": {"name": "renamed"}})
    assert ok(resp)["flavorprofile"]["name"] == "renamed"  # a name is no change of meaning


def test_profile_in_use_can_be_neither_changed_nor_deleted(lb_cloud: LbCloud) -> None:
    admin = lb_cloud.lb()
    fp = profile(lb_cloud)
    fl = flavor(lb_cloud, fp["id"])
    in_use = f"Flavor profile {fp['id']} is in use and cannot be modified."
    assert fault(admin.delete(f"{FPS}/{fp['id']}"), 409) == in_use
    for change in ({"flavor_data": "{}"}, {"provider_name": "octavia"}):
        resp = admin.put(f"{FPS}/{fp['id']}", json={"flavorprofile": change})
        assert fault(resp, 409) == in_use
    assert ok(admin.get(f"{FPS}/{fp['id']}"))["flavorprofile"] == fp
    assert admin.delete(f"{FLAVORS}/{fl['id']}").status_code == 204
    assert admin.delete(f"{FPS}/{fp['id']}").status_code == 204


def test_flavor_selects_active_standby(lb_cloud: LbCloud, subnet_id: str) -> None:
    fl = flavor(lb_cloud, profile(lb_cloud)["id"])
    lb = ok(create_lb(lb_cloud, subnet_id, flavor_id=fl["id"]), 201)["loadbalancer"]
    assert lb["flavor_id"] == fl["id"] and lb["provider"] == "amphora"
    assert topology(lb_cloud, lb["id"]) == "ACTIVE_STANDBY"
    assert lb_cloud.jobs() == [("loadbalancer_create", lb["id"])]
    # Provider and flavor together must agree; the alias does.
    lb2 = ok(create_lb(lb_cloud, subnet_id, flavor_id=fl["id"], provider="octavia"), 201)
    assert topology(lb_cloud, lb2["loadbalancer"]["id"]) == "ACTIVE_STANDBY"


def test_topology_defaults(lb_cloud: LbCloud, subnet_id: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    single = flavor(lb_cloud, profile(lb_cloud, "single", json.dumps(
        {"loadbalancer_topology": "SINGLE"}))["id"], "single")
    unset = flavor(lb_cloud, profile(lb_cloud, "empty", "{}")["id"], "empty")
    plain = ok(create_lb(lb_cloud, subnet_id), 201)["loadbalancer"]
    assert plain["flavor_id"] is None and topology(lb_cloud, plain["id"]) == "SINGLE"
    state = lb_cloud.lb_apps["RegionOne"].state
    monkeypatch.setattr(state, "config",
                        dataclasses.replace(state.config, default_topology="ACTIVE_STANDBY"))
    by_default = ok(create_lb(lb_cloud, subnet_id), 201)["loadbalancer"]
    assert topology(lb_cloud, by_default["id"]) == "ACTIVE_STANDBY"
    # A profile that leaves the topology out takes the deployment's default…
    from_empty = ok(create_lb(lb_cloud, subnet_id, flavor_id=unset["id"]), 201)
    assert topology(lb_cloud, from_empty["loadbalancer"]["id"]) == "ACTIVE_STANDBY"
    # …and one that names it wins over the default.
    from_single = ok(create_lb(lb_cloud, subnet_id, flavor_id=single["id"]), 201)
    assert topology(lb_cloud, from_single["loadbalancer"]["id"]) == "SINGLE"


def test_bad_flavor_on_create_creates_nothing(lb_cloud: LbCloud, subnet_id: str) -> None:
    fl = flavor(lb_cloud, profile(lb_cloud)["id"], enabled=False)
    missing = "5e0b9e5b-1a3c-4f51-9c3e-3c4e4d4b9a11"
    cases = [({"flavor_id": missing}, "Validation failure: Invalid flavor_id."),
             ({"flavor_id": fl["id"]},
              f"The selected flavor is not allowed in this deployment: {fl['id']}"),
             ({"flavor_id": fl["id"], "provider": "f5"}, "Provider 'f5' is not enabled.")]
    for attrs, text in cases:
        assert fault(create_lb(lb_cloud, subnet_id, **attrs), 400) == text
    assert ok(lb_cloud.lb().get(LBS))["loadbalancers"] == []
    ports = ok(lb_cloud.client("CentralRegion").get("/v2.0/ports"))["ports"]
    assert not [p for p in ports if p["name"].startswith("octavia-lb-")]
    assert lb_cloud.jobs() == []


def test_flavor_in_use_by_a_load_balancer(lb_cloud: LbCloud, subnet_id: str) -> None:
    admin = lb_cloud.lb()
    fl = flavor(lb_cloud, profile(lb_cloud)["id"])
    lb = ok(create_lb(lb_cloud, subnet_id, flavor_id=fl["id"]), 201)["loadbalancer"]
    assert fault(admin.delete(f"{FLAVORS}/{fl['id']}"), 409) == (
        f"Flavor {fl['id']} is in use and cannot be modified.")
    # Disabling stops new load balancers; the existing one keeps its flavor.
    ok(admin.put(f"{FLAVORS}/{fl['id']}", json={"flavor": {"enabled": False}}))
    fault(create_lb(lb_cloud, subnet_id, flavor_id=fl["id"]), 400)
    lb_cloud.settle(lb["id"])
    assert lb_cloud.lb(token="demo-token").delete(f"{LBS}/{lb['id']}").status_code == 204
    lb_cloud.settle(lb["id"])  # the controller removes the PENDING_DELETE row
    assert admin.delete(f"{FLAVORS}/{fl['id']}").status_code == 204
