"""Central networking's happy paths, with the exact values Neutron answers."""

from __future__ import annotations

import re
from typing import Any

from networking_testing import Cloud, error, ok

CENTRAL = "CentralRegion"
Body = dict[str, Any]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def net(cloud: Cloud, token: str = "admin-token", **attrs: Any) -> Body:
    result: Body = ok(cloud.client(CENTRAL, token).post("/v2.0/networks", json={
        "network": {"name": "n", **attrs}}), 201)["network"]
    return result


def subnet(cloud: Cloud, network_id: str, cidr: str, token: str = "admin-token",
           **attrs: Any) -> Body:
    result: Body = ok(cloud.client(CENTRAL, token).post("/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": cidr, "ip_version": 6 if ":" in cidr else 4,
        **attrs}}), 201)["subnet"]
    return result


def port(cloud: Cloud, network_id: str, token: str = "admin-token", **attrs: Any) -> Body:
    result: Body = ok(cloud.client(CENTRAL, token).post("/v2.0/ports", json={"port": {
        "network_id": network_id, **attrs}}), 201)["port"]
    return result


def test_version_discovery(cloud: Cloud) -> None:
    anon = cloud.client(CENTRAL, "")
    versions = ok(anon.get("/"))["versions"]
    assert versions == [{"id": "v2.0", "status": "CURRENT",
                         "links": [{"href": "http://central.test/v2.0/", "rel": "self"}]}]
    resources = ok(anon.get("/v2.0"))["resources"]
    assert [r["collection"] for r in resources] == [
        "networks", "subnets", "ports", "security-groups", "security-group-rules"]
    assert resources[0]["links"] == [{"href": "http://central.test/v2.0/networks",
                                      "rel": "self"}]


def test_extensions(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    found = ok(client.get("/v2.0/extensions"))["extensions"]
    aliases = {e["alias"] for e in found}
    assert {"provider", "availability_zone", "network_availability_zone", "binding",
            "security-group", "allowed-address-pairs", "port-security", "quotas",
            "quota_details", "net-mtu", "standard-attr-revisions", "standard-attr-timestamp",
            "standard-attr-tag", "standard-attr-description", "project-id", "pagination",
            "sorting"} <= aliases
    assert all(set(e) == {"alias", "name", "description", "links", "updated"} for e in found)
    one = ok(client.get("/v2.0/extensions/net-mtu"))["extension"]
    assert (one["alias"], one["name"]) == ("net-mtu", "Network MTU")
    assert error(client.get("/v2.0/extensions/nope"), 404)["type"] == "ExtensionNotFound"


def test_availability_zones_at_central_and_in_a_region(cloud: Cloud) -> None:
    zones = ok(cloud.client(CENTRAL, "demo-token").get("/v2.0/availability_zones"))
    assert sorted(zones["availability_zones"], key=lambda z: z["name"]) == [
        {"name": "az1", "resource": "network", "state": "available"},
        {"name": "az2", "resource": "network", "state": "available"}]
    zones = ok(cloud.client("RegionOne", "demo-token").get("/v2.0/availability_zones"))
    assert zones["availability_zones"] == [
        {"name": "az1", "resource": "network", "state": "available"}]


def test_network_defaults_and_mtu_per_type(cloud: Cloud) -> None:
    made = net(cloud, token="demo-token")
    assert {k: made[k] for k in ("name", "admin_state_up", "shared", "status", "mtu",
                                 "port_security_enabled", "subnets", "project_id",
                                 "tenant_id", "router:external", "availability_zone_hints",
                                 "availability_zones", "tags", "description")} == {
        "name": "n", "admin_state_up": True, "shared": False, "status": "ACTIVE", "mtu": 1450,
        "port_security_enabled": True, "subnets": [], "project_id": "demo-project",
        "tenant_id": "demo-project", "router:external": False, "availability_zone_hints": [],
        "availability_zones": [], "tags": [], "description": ""}
    assert (made["provider:network_type"], made["provider:segmentation_id"],
            made["provider:physical_network"]) == ("vxlan", 1001, None)
    vlan = net(cloud, **{"provider:network_type": "vlan"})
    assert (vlan["provider:network_type"], vlan["provider:physical_network"],
            vlan["provider:segmentation_id"], vlan["mtu"]) == ("vlan", "physnet1", 100, 1500)
    flat = net(cloud, **{"provider:network_type": "flat"})
    assert (flat["provider:physical_network"], flat["provider:segmentation_id"],
            flat["mtu"]) == ("physnet1", None, 1500)
    local = net(cloud, **{"provider:network_type": "local"})
    assert (local["provider:segmentation_id"], local["mtu"]) == (None, 1500)
    smaller = net(cloud, mtu=1400)
    assert (smaller["mtu"], smaller["provider:segmentation_id"]) == (1400, 1002)


def test_revision_number_and_timestamps(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL)
    made = net(cloud)
    assert made["revision_number"] in (0, 1)
    assert TIMESTAMP.match(made["created_at"]) and TIMESTAMP.match(made["updated_at"])
    first = made["revision_number"]
    renamed = ok(client.put(f"/v2.0/networks/{made['id']}", json={
        "network": {"name": "renamed", "description": "d"}}))["network"]
    assert (renamed["name"], renamed["description"]) == ("renamed", "d")
    assert renamed["revision_number"] == first + 1
    assert renamed["created_at"] == made["created_at"]
    assert renamed["updated_at"] >= made["updated_at"]
    again = ok(client.put(f"/v2.0/networks/{made['id']}", json={
        "network": {"admin_state_up": False}}))["network"]
    assert (again["admin_state_up"], again["revision_number"]) == (False, first + 2)
    shown = ok(client.get(f"/v2.0/networks/{made['id']}"))["network"]
    assert shown["revision_number"] == first + 2
    sub = subnet(cloud, made["id"], "10.0.0.0/24")
    assert TIMESTAMP.match(sub["created_at"])
    renamed_sub = ok(client.put(f"/v2.0/subnets/{sub['id']}", json={
        "subnet": {"name": "s"}}))["subnet"]
    assert renamed_sub["revision_number"] == sub["revision_number"] + 1


def test_ipv4_subnet_with_pools_routes_and_nameservers(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24", name="s4",
                 allocation_pools=[{"start": "10.0.0.100", "end": "10.0.0.110"},
                                   {"start": "10.0.0.20", "end": "10.0.0.30"}],
                 host_routes=[{"destination": "10.1.0.0/16", "nexthop": "10.0.0.254"}],
                 dns_nameservers=["8.8.8.8", "1.1.1.1"], enable_dhcp=False)
    assert {k: sub[k] for k in ("cidr", "ip_version", "gateway_ip", "allocation_pools",
                                "host_routes", "dns_nameservers", "enable_dhcp",
                                "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id",
                                "network_id", "name")} == {
        "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1",
        "allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.30"},
                             {"start": "10.0.0.100", "end": "10.0.0.110"}],
        "host_routes": [{"destination": "10.1.0.0/16", "nexthop": "10.0.0.254"}],
        "dns_nameservers": ["8.8.8.8", "1.1.1.1"], "enable_dhcp": False,
        "ipv6_ra_mode": None, "ipv6_address_mode": None, "subnetpool_id": None,
        "network_id": network["id"], "name": "s4"}
    assert ok(cloud.client(CENTRAL).get(
        f"/v2.0/networks/{network['id']}"))["network"]["subnets"] == [sub["id"]]
    # Ports take the pools' addresses in order.
    assert port(cloud, network["id"])["fixed_ips"] == [
        {"subnet_id": sub["id"], "ip_address": "10.0.0.20"}]
    # A gateway given inside the CIDR moves out of the default pool.
    other = subnet(cloud, net(cloud, name="o")["id"], "10.2.0.0/24", gateway_ip="10.2.0.254")
    assert other["allocation_pools"] == [{"start": "10.2.0.1", "end": "10.2.0.253"}]
    middle = subnet(cloud, net(cloud, name="m")["id"], "10.3.0.0/29", gateway_ip="10.3.0.3")
    assert middle["allocation_pools"] == [{"start": "10.3.0.1", "end": "10.3.0.2"},
                                          {"start": "10.3.0.4", "end": "10.3.0.6"}]


def test_subnet_update_of_pools_routes_and_gateway(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    client = cloud.client(CENTRAL)
    updated = ok(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {
        "allocation_pools": [{"start": "10.0.0.50", "end": "10.0.0.60"}],
        "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.2"}],
        "dns_nameservers": ["9.9.9.9"]}}))["subnet"]
    assert (updated["allocation_pools"], updated["host_routes"],
            updated["dns_nameservers"], updated["gateway_ip"]) == (
        [{"start": "10.0.0.50", "end": "10.0.0.60"}],
        [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.2"}], ["9.9.9.9"], "10.0.0.1")
    no_gateway = ok(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {
        "gateway_ip": None}}))["subnet"]
    assert no_gateway["gateway_ip"] is None
    assert no_gateway["allocation_pools"] == [{"start": "10.0.0.50", "end": "10.0.0.60"}]


def test_ipv6_subnet_defaults(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "2001:db8::/64", ipv6_ra_mode="slaac",
                 ipv6_address_mode="slaac")
    assert {k: sub[k] for k in ("cidr", "ip_version", "gateway_ip", "allocation_pools",
                                "ipv6_ra_mode", "ipv6_address_mode")} == {
        "cidr": "2001:db8::/64", "ip_version": 6, "gateway_ip": "2001:db8::1",
        "allocation_pools": [{"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}],
        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}
    plain = subnet(cloud, net(cloud, name="v6")["id"], "2001:db8:1::/64",
                   dns_nameservers=["2001:4860:4860::8888"])
    assert (plain["gateway_ip"], plain["ipv6_ra_mode"], plain["dns_nameservers"]) == (
        "2001:db8:1::1", None, ["2001:4860:4860::8888"])


def test_port_defaults_and_addresses_from_two_subnets(cloud: Cloud) -> None:
    network = net(cloud, token="demo-token")
    v4 = subnet(cloud, network["id"], "10.0.0.0/24", token="demo-token")
    v6 = subnet(cloud, network["id"], "2001:db8::/64", token="demo-token")
    made = port(cloud, network["id"], token="demo-token", name="p")
    assert made["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.0.0.2"},
                                 {"subnet_id": v6["id"], "ip_address": "2001:db8::2"}]
    assert re.match(r"^fa:16:3e(:[0-9a-f]{2}){3}$", made["mac_address"])
    assert {k: made[k] for k in ("name", "admin_state_up", "status", "device_id",
                                 "device_owner", "binding:host_id", "binding:vif_type",
                                 "binding:vnic_type", "port_security_enabled",
                                 "allowed_address_pairs", "project_id", "tags")} == {
        "name": "p", "admin_state_up": True, "status": "DOWN", "device_id": "",
        "device_owner": "", "binding:host_id": "", "binding:vif_type": "unbound",
        "binding:vnic_type": "normal", "port_security_enabled": True,
        "allowed_address_pairs": [], "project_id": "demo-project", "tags": []}
    default = ok(cloud.client(CENTRAL, "demo-token").get(
        "/v2.0/security-groups", params={"name": "default"}))["security_groups"]
    assert made["security_groups"] == [default[0]["id"]]


def test_fixed_ips_by_address_and_by_subnet(cloud: Cloud) -> None:
    network = net(cloud)
    first = subnet(cloud, network["id"], "10.0.0.0/24")
    second = subnet(cloud, network["id"], "10.0.1.0/24")
    by_ip = port(cloud, network["id"], fixed_ips=[{"ip_address": "10.0.1.77"}])
    assert by_ip["fixed_ips"] == [{"subnet_id": second["id"], "ip_address": "10.0.1.77"}]
    by_subnet = port(cloud, network["id"], fixed_ips=[{"subnet_id": second["id"]}])
    assert by_subnet["fixed_ips"] == [{"subnet_id": second["id"], "ip_address": "10.0.1.2"}]
    both = port(cloud, network["id"], fixed_ips=[
        {"subnet_id": first["id"], "ip_address": "10.0.0.9"}, {"subnet_id": second["id"]}])
    assert both["fixed_ips"] == [{"subnet_id": first["id"], "ip_address": "10.0.0.9"},
                                 {"subnet_id": second["id"], "ip_address": "10.0.1.3"}]
    # No address at all when asked for none.
    assert port(cloud, network["id"], fixed_ips=[])["fixed_ips"] == []
    # A port on a network without subnets has none either.
    assert port(cloud, net(cloud, name="bare")["id"])["fixed_ips"] == []


def test_port_update_of_fixed_ips_frees_the_old_address(cloud: Cloud) -> None:
    network = net(cloud)
    sub = subnet(cloud, network["id"], "10.0.0.0/24")
    made = port(cloud, network["id"])
    assert made["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    client = cloud.client(CENTRAL)
    moved = ok(client.put(f"/v2.0/ports/{made['id']}", json={"port": {
        "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"},
                      {"subnet_id": sub["id"], "ip_address": "10.0.0.51"}]}}))["port"]
    assert moved["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"},
                                  {"subnet_id": sub["id"], "ip_address": "10.0.0.51"}]
    assert moved["revision_number"] == made["revision_number"] + 1
    # .2 is free again: the next port gets it.
    assert port(cloud, network["id"])["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    # Keeping an address while adding one.
    kept = ok(client.put(f"/v2.0/ports/{made['id']}", json={"port": {
        "fixed_ips": [{"ip_address": "10.0.0.50"}, {"subnet_id": sub["id"]}]}}))["port"]
    assert [ip["ip_address"] for ip in kept["fixed_ips"]] == ["10.0.0.50", "10.0.0.3"]


def test_allowed_address_pairs_default_to_the_ports_mac(cloud: Cloud) -> None:
    network = net(cloud)
    subnet(cloud, network["id"], "10.0.0.0/24")
    made = port(cloud, network["id"], allowed_address_pairs=[
        {"ip_address": "10.0.0.200"},
        {"ip_address": "10.0.5.0/24", "mac_address": "fa:16:3e:aa:bb:cc"}])
    assert made["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.200", "mac_address": made["mac_address"]},
        {"ip_address": "10.0.5.0/24", "mac_address": "fa:16:3e:aa:bb:cc"}]
    updated = ok(cloud.client(CENTRAL).put(f"/v2.0/ports/{made['id']}", json={"port": {
        "allowed_address_pairs": [{"ip_address": "10.0.0.201"}]}}))["port"]
    assert updated["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.201", "mac_address": made["mac_address"]}]


def test_port_binding_mac_and_port_security(cloud: Cloud) -> None:
    network = net(cloud)
    made = port(cloud, network["id"], mac_address="FA:16:3E:01:02:03",
                **{"binding:host_id": "host-a"})
    assert (made["mac_address"], made["binding:host_id"]) == ("fa:16:3e:01:02:03", "host-a")
    assert made["binding:vif_type"] != "unbound"  # what the host's agent reports decides
    client = cloud.client(CENTRAL)
    unbound = ok(client.put(f"/v2.0/ports/{made['id']}", json={"port": {
        "binding:host_id": ""}}))["port"]
    assert (unbound["binding:host_id"], unbound["binding:vif_type"]) == ("", "unbound")
    insecure = port(cloud, network["id"], port_security_enabled=False)
    assert (insecure["port_security_enabled"], insecure["security_groups"]) == (False, [])


def test_default_security_group_rules_created_once_per_project(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    for _ in range(3):
        groups = ok(client.get("/v2.0/security-groups"))["security_groups"]
    network = net(cloud, token="demo-token")
    for _ in range(2):
        port(cloud, network["id"], token="demo-token")
    groups = ok(client.get("/v2.0/security-groups"))["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert (default["description"], default["project_id"]) == (
        "Default security group", "demo-project")
    rules = sorted((r["direction"], r["ethertype"], r["remote_group_id"], r["protocol"],
                    r["remote_ip_prefix"], r["port_range_min"], r["port_range_max"])
                   for r in default["security_group_rules"])
    assert rules == [("egress", "IPv4", None, None, None, None, None),
                     ("egress", "IPv6", None, None, None, None, None),
                     ("ingress", "IPv4", default["id"], None, None, None, None),
                     ("ingress", "IPv6", default["id"], None, None, None, None)]
    listed = ok(client.get("/v2.0/security-group-rules"))["security_group_rules"]
    assert sorted(r["id"] for r in listed) == sorted(
        r["id"] for r in default["security_group_rules"])
    # Another project gets its own, also once.
    alt = cloud.client(CENTRAL, "alt-token")
    alt_groups = ok(alt.get("/v2.0/security-groups"))["security_groups"]
    assert [(g["name"], g["project_id"]) for g in alt_groups] == [("default", "alt-project")]
    assert alt_groups[0]["id"] != default["id"]


def test_security_group_and_rule_create_and_delete(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    sg = ok(client.post("/v2.0/security-groups", json={"security_group": {
        "name": "web", "description": "web servers"}}), 201)["security_group"]
    assert (sg["name"], sg["description"], sg["stateful"]) == ("web", "web servers", True)
    assert sorted((r["direction"], r["ethertype"]) for r in sg["security_group_rules"]) == [
        ("egress", "IPv4"), ("egress", "IPv6")]
    rule = ok(client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 80, "port_range_max": 443, "remote_ip_prefix": "10.0.0.5/8",
        "description": "http"}}), 201)["security_group_rule"]
    assert {k: rule[k] for k in ("security_group_id", "direction", "ethertype", "protocol",
                                 "port_range_min", "port_range_max", "remote_ip_prefix",
                                 "remote_group_id", "description", "project_id")} == {
        "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 80, "port_range_max": 443,
        "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": None, "description": "http",
        "project_id": "demo-project"}
    icmp = ok(client.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "ethertype": "IPv6",
        "protocol": "ipv6-icmp"}}), 201)["security_group_rule"]
    shown = ok(client.get(f"/v2.0/security-groups/{sg['id']}"))["security_group"]
    assert {r["id"] for r in shown["security_group_rules"]} >= {rule["id"], icmp["id"]}
    assert shown["revision_number"] == sg["revision_number"] + 2
    assert ok(client.get(f"/v2.0/security-group-rules/{rule['id']}"))[
        "security_group_rule"] == rule
    ok(client.delete(f"/v2.0/security-group-rules/{rule['id']}"), 204)
    error(client.get(f"/v2.0/security-group-rules/{rule['id']}"), 404)
    shown = ok(client.get(f"/v2.0/security-groups/{sg['id']}"))["security_group"]
    assert rule["id"] not in {r["id"] for r in shown["security_group_rules"]}
    renamed = ok(client.put(f"/v2.0/security-groups/{sg['id']}", json={
        "security_group": {"name": "www"}}))["security_group"]
    assert renamed["name"] == "www"
    ok(client.delete(f"/v2.0/security-groups/{sg['id']}"), 204)
    error(client.get(f"/v2.0/security-groups/{sg['id']}"), 404)
    error(client.get(f"/v2.0/security-group-rules/{icmp['id']}"), 404)


def test_tags(cloud: Cloud) -> None:
    client = cloud.client(CENTRAL, "demo-token")
    red = net(cloud, token="demo-token", name="red", tags=["colour", "red"])
    assert red["tags"] == ["colour", "red"]
    blue = net(cloud, token="demo-token", name="blue")
    base = f"/v2.0/networks/{blue['id']}/tags"
    assert ok(client.put(base, json={"tags": ["b", "a", "colour"]})) == {
        "tags": ["a", "b", "colour"]}
    assert ok(client.get(base)) == {"tags": ["a", "b", "colour"]}
    ok(client.put(f"{base}/blue"), 201)
    ok(client.put(f"{base}/blue"), 201)  # adding it twice keeps one
    ok(client.get(f"{base}/blue"), 204)
    assert error(client.get(f"{base}/green"), 404)["type"] == "TagNotFound"
    ok(client.delete(f"{base}/a"), 204)
    error(client.delete(f"{base}/a"), 404)
    shown = ok(client.get(f"/v2.0/networks/{blue['id']}"))["network"]
    assert shown["tags"] == ["b", "blue", "colour"]

    def names(**params: str) -> list[str]:
        found = ok(client.get("/v2.0/networks", params=params))["networks"]
        return sorted(n["name"] for n in found)

    assert names(tags="colour") == ["blue", "red"]
    assert names(tags="colour,red") == ["red"]
    assert names(**{"tags-any": "red,blue"}) == ["blue", "red"]
    assert names(**{"tags-any": "red,b"}) == ["blue", "red"]
    assert names(**{"not-tags": "colour,red"}) == ["blue"]
    assert names(**{"not-tags-any": "red,b"}) == []
    assert names(**{"not-tags-any": "red"}) == ["blue"]
    ok(client.delete(base), 204)
    assert ok(client.get(base)) == {"tags": []}
    # Subnets, ports and security groups have tags too.
    sub = subnet(cloud, red["id"], "10.0.0.0/24", token="demo-token")
    assert ok(client.put(f"/v2.0/subnets/{sub['id']}/tags", json={"tags": ["s"]})) == {
        "tags": ["s"]}
    p = port(cloud, red["id"], token="demo-token", tags=["p"])
    assert ok(client.get(f"/v2.0/ports/{p['id']}/tags")) == {"tags": ["p"]}
    sg_id = p["security_groups"][0]
    ok(client.put(f"/v2.0/security-groups/{sg_id}/tags/g"), 201)
    assert ok(client.get("/v2.0/security-groups", params={"tags": "g"}))[
        "security_groups"][0]["id"] == sg_id


def test_quotas_show_update_details_and_over_quota(cloud: Cloud) -> None:
    admin = cloud.client(CENTRAL)
    demo = cloud.client(CENTRAL, "demo-token")
    quota = ok(demo.get("/v2.0/quotas/demo-project"))["quota"]
    assert {k: quota[k] for k in ("network", "subnet", "port", "security_group",
                                  "security_group_rule")} == {
        "network": 100, "subnet": 100, "port": 500, "security_group": 10,
        "security_group_rule": 100}
    assert ok(demo.get("/v2.0/quotas/demo-project/default"))["quota"]["network"] == 100
    updated = ok(admin.put("/v2.0/quotas/demo-project", json={"quota": {
        "network": 2, "port": -1}}))["quota"]
    assert (updated["network"], updated["port"], updated["subnet"]) == (2, -1, 100)
    assert ok(demo.get("/v2.0/quotas/demo-project"))["quota"]["network"] == 2
    assert ok(admin.get("/v2.0/quotas"))["quotas"] == [
        {**updated, "project_id": "demo-project", "tenant_id": "demo-project"}]
    network = net(cloud, token="demo-token")
    subnet(cloud, network["id"], "10.0.0.0/24", token="demo-token")
    port(cloud, network["id"], token="demo-token")
    net(cloud, token="demo-token", name="second")
    details = ok(demo.get("/v2.0/quotas/demo-project/details"))["quota"]
    assert details["network"] == {"limit": 2, "used": 2, "reserved": 0}
    assert details["subnet"] == {"limit": 100, "used": 1, "reserved": 0}
    assert details["port"] == {"limit": -1, "used": 1, "reserved": 0}
    assert details["security_group"] == {"limit": 10, "used": 1, "reserved": 0}
    assert details["security_group_rule"]["used"] == 4
    err = error(demo.post("/v2.0/networks", json={"network": {"name": "third"}}), 409)
    assert err["type"] == "OverQuota"
    assert "network" in err["message"]
    assert len(ok(demo.get("/v2.0/networks"))["networks"]) == 2
    # Admin's quota for the demo project applies to admin creating for it as well.
    error(admin.post("/v2.0/networks", json={"network": {"project_id": "demo-project"}}), 409)
    ok(admin.delete("/v2.0/quotas/demo-project"), 204)
    assert ok(demo.get("/v2.0/quotas/demo-project"))["quota"]["network"] == 100
    net(cloud, token="demo-token", name="third")
