"""List queries as Neutron answers them: filters, ``fields=``, sorting and pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from networking_testing import Cloud, error, ok

CENTRAL = "CentralRegion"
Body = dict[str, Any]


def net(client: httpx.Client, name: str, **attrs: Any) -> Body:
    result: Body = ok(client.post("/v2.0/networks", json={"network": {"name": name, **attrs}}),
                      201)["network"]
    return result


def names(client: httpx.Client, params: Any, collection: str = "networks") -> list[str]:
    return [r["name"] for r in ok(client.get(f"/v2.0/{collection}", params=params))[
        collection.replace("-", "_")]]


def test_filters(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    a = net(client, "a")
    b = net(client, "b", admin_state_up=False)
    c = net(client, "c", shared=True, **{"provider:network_type": "vlan"})
    net(client, "a", description="second a")
    # Repeated values of one filter are alternatives; different filters all apply.
    assert sorted(names(client, [("id", a["id"]), ("id", c["id"])])) == ["a", "c"]
    assert sorted(names(client, [("name", "a"), ("name", "b")])) == ["a", "a", "b"]
    assert names(client, [("name", "a"), ("description", "second a")]) == ["a"]
    assert names(client, [("id", a["id"]), ("name", "b")]) == []
    # Booleans, in Neutron's spellings.
    for spelling in ("False", "false"):
        assert names(client, {"admin_state_up": spelling}) == ["b"]
    for spelling in ("True", "true"):
        assert names(client, {"shared": spelling}) == ["c"]
    assert sorted(names(client, {"shared": "false"})) == ["a", "a", "b"]
    assert names(client, {"provider:network_type": "vlan"}) == ["c"]
    assert names(client, {"provider:segmentation_id": str(b["provider:segmentation_id"])}) \
        == ["b"]
    assert names(client, {"name": "nobody"}) == []


def test_fixed_ips_and_network_filters_on_ports(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    network = net(client, "n")
    other = net(client, "o")
    sub = ok(client.post("/v2.0/subnets", json={"subnet": {
        "network_id": network["id"], "cidr": "10.0.0.0/24", "ip_version": 4}}),
        201)["subnet"]
    ports = [ok(client.post("/v2.0/ports", json={"port": {
        "network_id": network["id"], "name": f"p{i}", "device_id": f"vm{i % 2}",
        "fixed_ips": [{"ip_address": f"10.0.0.{10 + i}"}]}}), 201)["port"] for i in range(3)]
    ok(client.post("/v2.0/ports", json={"port": {"network_id": other["id"], "name": "q"}}),
       201)
    assert names(client, {"fixed_ips": "ip_address=10.0.0.11"}, "ports") == ["p1"]
    assert sorted(names(client, [("fixed_ips", "ip_address=10.0.0.10"),
                                 ("fixed_ips", "ip_address=10.0.0.12")], "ports")) == \
        ["p0", "p2"]
    assert sorted(names(client, {"fixed_ips": f"subnet_id={sub['id']}"}, "ports")) == \
        ["p0", "p1", "p2"]
    assert sorted(names(client, {"fixed_ips": "ip_address_substr=10.0.0.1"}, "ports")) == \
        ["p0", "p1", "p2"]
    assert names(client, {"fixed_ips": "ip_address=10.0.0.99"}, "ports") == []
    assert sorted(names(client, {"network_id": network["id"]}, "ports")) == ["p0", "p1", "p2"]
    assert names(client, {"network_id": other["id"]}, "ports") == ["q"]
    assert sorted(names(client, {"device_id": "vm0"}, "ports")) == ["p0", "p2"]
    assert names(client, {"mac_address": ports[1]["mac_address"]}, "ports") == ["p1"]
    error(client.get("/v2.0/ports", params={"fixed_ips": "mac=x"}), 400)


def test_fields_on_list_and_show(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    made = net(client, "a")
    listed = ok(client.get("/v2.0/networks", params=[("fields", "id"), ("fields", "name")]))
    assert listed == {"networks": [{"id": made["id"], "name": "a"}]}
    shown = ok(client.get(f"/v2.0/networks/{made['id']}", params=[
        ("fields", "name"), ("fields", "provider:segmentation_id")]))
    assert shown == {"network": {"name": "a", "provider:segmentation_id": 1001}}
    one = ok(client.get(f"/v2.0/networks/{made['id']}", params={"fields": "mtu"}))
    assert one == {"network": {"mtu": 1450}}
    # Filtering and sorting on attributes that are not among the fields still work.
    net(client, "b")
    sorted_names = ok(client.get("/v2.0/networks", params=[
        ("fields", "name"), ("sort_key", "name"), ("sort_dir", "desc"),
        ("id", made["id"])]))
    assert sorted_names == {"networks": [{"name": "a"}]}


def test_sorting(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    for name, state in (("b", True), ("a", False), ("c", False), ("a", True)):
        net(client, name, admin_state_up=state)
    assert names(client, {"sort_key": "name"}) == ["a", "a", "b", "c"]
    assert names(client, {"sort_key": "name", "sort_dir": "desc"}) == ["c", "b", "a", "a"]
    listed = ok(client.get("/v2.0/networks", params=[
        ("sort_key", "admin_state_up"), ("sort_dir", "asc"),
        ("sort_key", "name"), ("sort_dir", "desc")]))["networks"]
    assert [(n["admin_state_up"], n["name"]) for n in listed] == [
        (False, "c"), (False, "a"), (True, "b"), (True, "a")]
    # A sort key without a direction is ascending.
    listed = ok(client.get("/v2.0/networks", params=[
        ("sort_key", "name"), ("sort_key", "admin_state_up")]))["networks"]
    assert [(n["name"], n["admin_state_up"]) for n in listed] == [
        ("a", False), ("a", True), ("b", True), ("c", False)]
    # Ties are broken by id, so every order is stable.
    by_id = names(client, [("sort_key", "id")])
    assert len(by_id) == 4


def test_bad_sort_and_limit_are_400(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    net(client, "a")
    for params in ({"sort_key": "nope"}, {"sort_key": "name", "sort_dir": "sideways"},
                   [("sort_key", "name"), ("sort_dir", "asc"), ("sort_dir", "desc")],
                   {"limit": "abc"}, {"limit": "-1"}, {"limit": "1.5"}):
        err = error(client.get("/v2.0/networks", params=params), 400)
        assert err["type"] == "InvalidInput", (params, err)
    assert "nope" in error(client.get("/v2.0/networks", params={"sort_key": "nope"}),
                           400)["message"]
    # limit=0 means no limit, as in Neutron.
    assert len(ok(client.get("/v2.0/networks", params={"limit": "0"}))["networks"]) == 1


@pytest.mark.xfail(strict=True, reason="listing.py checks sort keys against the first item "
                   "listed: with nothing to list, any key passes (Neutron checks the "
                   "resource's attributes)")
def test_bad_sort_key_on_an_empty_list_is_400(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    error(client.get("/v2.0/networks", params={"sort_key": "nope"}), 400)
    error(client.get("/v2.0/ports", params={"sort_key": "nope"}), 400)


def test_pagination_with_links(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    made = [net(client, f"n{i}") for i in range(5)]
    by_name = {n["name"]: n["id"] for n in made}
    base = "http://central.test/v2.0/networks"

    page1 = ok(client.get("/v2.0/networks", params={"limit": "2", "sort_key": "name"}))
    assert [n["name"] for n in page1["networks"]] == ["n0", "n1"]
    assert page1["networks_links"] == [
        {"rel": "next", "href": f"{base}?limit=2&sort_key=name&marker={by_name['n1']}"}]

    page2 = ok(client.get(page1["networks_links"][0]["href"]))
    assert [n["name"] for n in page2["networks"]] == ["n2", "n3"]
    assert page2["networks_links"] == [
        {"rel": "next", "href": f"{base}?limit=2&sort_key=name&marker={by_name['n3']}"},
        {"rel": "previous",
         "href": f"{base}?limit=2&sort_key=name&marker={by_name['n2']}&page_reverse=True"}]

    page3 = ok(client.get(page2["networks_links"][0]["href"]))
    assert [n["name"] for n in page3["networks"]] == ["n4"]
    assert [link["rel"] for link in page3["networks_links"]] == ["previous"]

    back = ok(client.get(page2["networks_links"][1]["href"]))
    assert [n["name"] for n in back["networks"]] == ["n0", "n1"]
    assert [link["rel"] for link in back["networks_links"]] == ["next"]
    assert back["networks_links"][0]["href"] == \
        f"{base}?limit=2&sort_key=name&marker={by_name['n1']}"

    # Without a sort key, pages follow the ids; together they hold everything once.
    seen: list[str] = []
    url: str | None = "/v2.0/networks?limit=2"
    while url:
        page = ok(client.get(url))
        seen += [n["id"] for n in page["networks"]]
        nexts = [link["href"] for link in page.get("networks_links", [])
                 if link["rel"] == "next"]
        url = nexts[0] if nexts else None
    assert seen == sorted(by_name.values())
    # A page exactly at the end has no next link.
    whole = ok(client.get("/v2.0/networks", params={"limit": "5"}))
    assert len(whole["networks"]) == 5
    assert "networks_links" not in whole


def test_pagination_descending_and_with_fields(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    for i in range(3):
        net(client, f"n{i}")
    page = ok(client.get("/v2.0/networks", params=[
        ("limit", "2"), ("sort_key", "name"), ("sort_dir", "desc"), ("fields", "name")]))
    assert page["networks"] == [{"name": "n2"}, {"name": "n1"}]
    following = ok(client.get(page["networks_links"][0]["href"]))
    assert following["networks"] == [{"name": "n0"}]
