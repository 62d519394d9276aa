"""Servers through their life: create (ports in networking, bound to a host), agent
reports, console, delete; bad input leaves nothing; policy."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from compute_testing import NOT_LOCATED, ComputeCloud, fault, ok

from tricircle_lb.compute.catalog import image_id_of

CIRROS = image_id_of("RegionOne", "cirros")


def boot(cc: ComputeCloud, token: str = "demo-token", status: int = 202,
         version: str = "2.79", **server: Any) -> dict[str, Any]:
    body = {"name": "vm1", "imageRef": CIRROS, "flavorRef": "1", **server}
    resp = cc.compute(token, version).post("/v2.1/servers", json={"server": body})
    assert resp.status_code == status, resp.text
    return dict(resp.json())


def show(cc: ComputeCloud, server_id: str, token: str = "admin-token") -> dict[str, Any]:
    return dict(ok(cc.compute(token).get(f"/v2.1/servers/{server_id}"))["server"])


def test_create_with_network_creates_and_binds_ports(cc: ComputeCloud) -> None:
    net = cc.make_network()
    user_data = base64.b64encode(b"#!/bin/sh\necho hello\n").decode()
    created = boot(cc, networks=[{"uuid": net["id"]}], user_data=user_data,
                   metadata={"role": "web"})["server"]
    server_id = created["id"]
    ports = cc.ports_of(server_id)
    assert len(ports) == 1
    port = ports[0]
    assert port["device_owner"] == "compute:az1"
    assert port["project_id"] == "demo-project"  # created as the caller
    assert port["binding:host_id"] in ("RegionOne-host1", "RegionOne-host2")
    # Central holds the same port (the region created it there first).
    assert [p["id"] for p in cc.central_ports(net["id"])] == [port["id"]]

    server = show(cc, server_id)
    assert server["status"] == "BUILD"
    assert server["OS-EXT-STS:task_state"] == "spawning"
    assert server["OS-EXT-SRV-ATTR:host"] == port["binding:host_id"]
    assert server["OS-EXT-SRV-ATTR:user_data"] == user_data
    assert server["OS-EXT-SRV-ATTR:hostname"] == "vm1"
    assert server["metadata"] == {"role": "web"}
    assert server["flavor"]["original_name"] == "m1.tiny"
    address = server["addresses"]["net1"][0]
    assert address["addr"] == port["fixed_ips"][0]["ip_address"]
    assert address["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"]
    assert address["OS-EXT-IPS:type"] == "fixed" and address["version"] == 4
    # What a member sees: no host attributes, hostId instead.
    mine = show(cc, server_id, "demo-token")
    assert "OS-EXT-SRV-ATTR:host" not in mine and mine["hostId"]

    # The host agent lists what runs on its host, then reports it running.
    host = port["binding:host_id"]
    listed = ok(cc.compute("admin-token").get("/v2.1/servers/detail", params={
        "all_tenants": "1", "host": host}))["servers"]
    assert [s["id"] for s in listed] == [server_id]
    active = cc.report(server_id, status="ACTIVE", power_state=1)
    assert active["status"] == "ACTIVE" and active["OS-EXT-STS:power_state"] == 1
    cc.report(server_id, console_log="login: cirros\nline 2\nline 3\n")
    console = ok(cc.compute().post(f"/v2.1/servers/{server_id}/action",
                                   json={"os-getConsoleOutput": {"length": 2}}))
    assert console["output"] == "line 2\nline 3\n"
    whole = ok(cc.compute().post(f"/v2.1/servers/{server_id}/action",
                                 json={"os-getConsoleOutput": {}}))
    assert whole["output"].startswith("login: cirros")

    # Delete: 204, gone from lists and from the agent's view, ports deleted.
    assert cc.compute().delete(f"/v2.1/servers/{server_id}").status_code == 204
    assert fault(cc.compute().get(f"/v2.1/servers/{server_id}"), 404)
    assert ok(cc.compute("admin-token").get("/v2.1/servers/detail", params={
        "all_tenants": "1", "host": host}))["servers"] == []
    assert cc.ports_of(server_id) == []
    assert cc.central_ports(net["id"]) == []
    deleted = ok(cc.compute("admin-token").get("/v2.1/servers/detail", params={
        "all_tenants": "1", "deleted": "true"}))["servers"]
    assert [s["status"] for s in deleted] == ["DELETED"]


def test_create_with_given_port_binds_and_delete_unbinds_it(cc: ComputeCloud) -> None:
    net = cc.make_network()
    port = ok(cc.network("RegionOne", "demo-token").post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "name": "mine"}}), 201)["port"]
    server_id = boot(cc, networks=[{"port": port["id"]}])["server"]["id"]
    bound = ok(cc.network().get(f"/v2.0/ports/{port['id']}"))["port"]
    assert bound["device_id"] == server_id and bound["binding:host_id"]
    # A bound port cannot be given to a second server.
    assert "still in use" in fault(cc.compute().post("/v2.1/servers", json={"server": {
        "name": "vm2", "imageRef": CIRROS, "flavorRef": "1",
        "networks": [{"port": port["id"]}]}}), 409)
    assert cc.compute().delete(f"/v2.1/servers/{server_id}").status_code == 204
    kept = ok(cc.network().get(f"/v2.0/ports/{port['id']}"))["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""


def test_scheduling_spreads_across_hosts_and_honours_zone(cc: ComputeCloud) -> None:
    hosts = []
    for i in range(4):
        server_id = boot(cc, name=f"vm{i}", networks="none")["server"]["id"]
        hosts.append(show(cc, str(server_id))["OS-EXT-SRV-ATTR:host"])
    assert sorted(hosts) == ["RegionOne-host1", "RegionOne-host1", "RegionOne-host2",
                             "RegionOne-host2"]
    forced = boot(cc, "admin-token", availability_zone="az1:RegionOne-host2",
                  networks="none")["server"]["id"]
    assert show(cc, str(forced))["OS-EXT-SRV-ATTR:host"] == "RegionOne-host2"
    assert fault(cc.compute().post("/v2.1/servers", json={"server": {
        "name": "x", "imageRef": CIRROS, "flavorRef": "1", "networks": "none",
        "availability_zone": "az1:RegionOne-host2"}}), 403)
    assert "availability zone" in fault(cc.compute().post("/v2.1/servers", json={"server": {
        "name": "x", "imageRef": CIRROS, "flavorRef": "1", "networks": "none",
        "availability_zone": "az9"}}), 400)
    unknown_host = boot(cc, "admin-token", availability_zone="az1:nowhere",
                        networks="none")["server"]["id"]
    failed = show(cc, str(unknown_host))
    assert failed["status"] == "ERROR"
    assert "No valid host was found" in failed["fault"]["message"]


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"flavorRef": "99"}, 400, "Flavor 99 could not be found"),
    ({"imageRef": "5e0fca2d-0000-4000-8000-000000000000"}, 400, "could not be found"),
    ({"networks": [{"uuid": "5e0fca2d-0000-4000-8000-000000000000"}]}, 400,
     "Network 5e0fca2d-0000-4000-8000-000000000000 could not be found"),
    ({"networks": [{"port": "5e0fca2d-0000-4000-8000-000000000000"}]}, 400,
     "could not be found"),
    ({"networks": [{"uuid": "NET", "fixed_ip": "10.0.10.300"}]}, 400, "Invalid fixed IP"),
    ({"key_name": "mykey"}, 400, "Invalid key_name"),
    ({"name": "web; rm -rf /"}, 400, "shell metacharacters"),
    ({"name": " padded"}, 400, "whitespace"),
    ({"user_data": "not base64!"}, 400, "base 64"),
    ({"user_data": "QUFB" * 17000}, 400, "user_data"),
    ({"security_groups": [{"name": "no-such-group"}], "networks": [{"uuid": "NET"}]}, 400,
     "no-such-group"),
    ({"networks": None}, 400, "'networks' is a required property"),
])
def test_bad_create_requests_create_nothing(cc: ComputeCloud, change: dict[str, Any],
                                            status: int, words: str) -> None:
    net = cc.make_network()
    body: dict[str, Any] = {"name": "vm1", "imageRef": CIRROS, "flavorRef": "1",
                               "networks": [{"uuid": net["id"]}]}
    for key, value in change.items():
        if value is None:
            body.pop(key)
        elif key == "networks" and isinstance(value, list):
            body[key] = [{k: (net["id"] if v == "NET" else v) for k, v in item.items()}
                         for item in value]
        else:
            body[key] = value
    message = fault(cc.compute().post("/v2.1/servers", json={"server": body}), status)
    assert words in message
    assert ok(cc.compute().get("/v2.1/servers"))["servers"] == []
    assert cc.central_ports(net["id"]) == []


def test_local_network_of_another_region_fails_the_build(cc: ComputeCloud) -> None:
    local: dict[str, Any] = {"provider:network_type": "local",
                             "availability_zone_hints": ["RegionTwo"], "shared": True}
    net = cc.make_network("r2-only", "admin-token", **local)
    created = boot(cc, networks=[{"uuid": net["id"]}])["server"]
    server = show(cc, created["id"])
    assert server["status"] == "ERROR"
    assert NOT_LOCATED in server["fault"]["message"]
    assert server["addresses"] == {}
    assert cc.central_ports(net["id"]) == []
    assert not cc.ports_of(str(created["id"]))


def test_networks_auto_none_and_old_microversions(cc: ComputeCloud) -> None:
    assert "is not of type 'array'" in fault(cc.compute(version="2.36").post(
        "/v2.1/servers", json={"server": {"name": "x", "imageRef": CIRROS, "flavorRef": "1",
                                          "networks": "auto"}}), 400)
    legacy = boot(cc, version="2.1")["server"]["id"]
    assert show(cc, str(legacy))["addresses"] == {}
    assert "Unable to automatically allocate" in fault(cc.compute().post(
        "/v2.1/servers", json={"server": {"name": "x", "imageRef": CIRROS, "flavorRef": "1",
                                          "networks": "auto"}}), 400)
    net = cc.make_network()
    # A region lists the networks it mirrors; "auto" picks among those.
    ok(cc.network("RegionOne", "demo-token").get(f"/v2.0/networks/{net['id']}"))
    auto = boot(cc, networks="auto")["server"]["id"]
    assert list(show(cc, str(auto))["addresses"]) == ["net1"]
    assert cc.ports_of(str(auto))[0]["network_id"] == net["id"]
    old = ok(cc.compute(version="2.46").get(f"/v2.1/servers/{auto}"))["server"]
    assert old["flavor"]["id"] == "1" and "tags" in old and "locked_reason" not in old


def test_build_timeout_and_agent_failure(cc: ComputeCloud) -> None:
    server_id = str(boot(cc, networks="none")["server"]["id"])
    object.__setattr__(cc.service.cfg, "build_timeout", 0.5)
    time.sleep(1.2)
    cc.service.sweep()
    server = show(cc, server_id)
    assert server["status"] == "ERROR"
    assert "timed out" in server["fault"]["message"]
    # A late report from the agent still brings it up.
    assert cc.report(server_id, status="ACTIVE")["status"] == "ACTIVE"
    other = str(boot(cc, name="vm2", networks="none")["server"]["id"])
    failed = cc.report(other, status="ERROR", fault="user-data exited with 3")
    assert failed["fault"]["message"] == "user-data exited with 3"
    assert fault(cc.compute().put(f"/v2.1/os-host-agent/servers/{other}",
                                  json={"server": {"status": "ACTIVE"}}), 403)


def test_policy_and_list_filters(cc: ComputeCloud) -> None:
    admins = str(boot(cc, "admin-token", name="admin-vm", networks="none")
                 ["server"]["id"])
    mine = str(boot(cc, name="web-1", networks="none")["server"]["id"])
    boot(cc, name="db-1", networks="none")
    demo = cc.compute()
    assert fault(demo.get(f"/v2.1/servers/{admins}"), 404)
    assert fault(demo.delete(f"/v2.1/servers/{admins}"), 404)
    assert fault(cc.compute("alt-token").get(f"/v2.1/servers/{mine}"), 404)
    assert fault(demo.get("/v2.1/servers", params={"all_tenants": "1"}), 403)
    names = {s["name"] for s in ok(demo.get("/v2.1/servers"))["servers"]}
    assert names == {"web-1", "db-1"}
    assert [s["name"] for s in ok(demo.get("/v2.1/servers", params={
        "name": "^web"}))["servers"]] == ["web-1"]
    everything = ok(cc.compute("admin-token").get("/v2.1/servers/detail", params={
        "all_tenants": "True"}))["servers"]
    assert len(everything) == 3
    assert [s["name"] for s in ok(cc.compute("admin-token").get("/v2.1/servers", params={
        "all_tenants": "1", "project_id": "demo-project", "name": "db"}))["servers"]] \
        == ["db-1"]
    assert ok(demo.get("/v2.1/servers", params={"status": "ACTIVE"}))["servers"] == []
    page = ok(demo.get("/v2.1/servers", params={"limit": 1}))
    assert len(page["servers"]) == 1 and page["servers_links"]
    reader = cc.compute("reader-token")
    assert fault(reader.delete(f"/v2.1/servers/{mine}"), 403)


def test_list_filters_match_in_linear_time(cc: ComputeCloud) -> None:
    """Issue 10: a caller's regular expression cannot make a list expensive (RE2, no
    backtracking): the classic catastrophic pattern against a long name returns at
    once, and what RE2 cannot match without backtracking is a 400."""
    boot(cc, name="a" * 200, networks="none")
    demo = cc.compute()
    # With a backtracking engine the second call never returns (the suite's timeout).
    found = ok(demo.get("/v2.1/servers", params={"name": "^(a+)+$"}))["servers"]
    assert [s["name"] for s in found] == ["a" * 200]
    assert ok(demo.get("/v2.1/servers", params={"name": "^(a|aa)+b$"}))["servers"] == []
    assert fault(demo.get("/v2.1/servers", params={"name": "(a)\\1"}), 400) == \
        "Invalid regular expression for name: (a)\\1"
    assert fault(demo.get("/v2.1/servers", params={"ip": "(?=10)"}), 400)


def test_rename_metadata_and_actions(cc: ComputeCloud) -> None:
    server_id = str(boot(cc, networks="none")["server"]["id"])
    client = cc.compute()
    renamed = ok(client.put(f"/v2.1/servers/{server_id}", json={"server": {
        "name": "vm-renamed", "description": "a web server"}}))["server"]
    assert renamed["name"] == "vm-renamed" and renamed["description"] == "a web server"
    assert ok(client.post(f"/v2.1/servers/{server_id}/metadata",
                          json={"metadata": {"a": "1"}}))["metadata"] == {"a": "1"}
    assert ok(client.put(f"/v2.1/servers/{server_id}/metadata/b",
                         json={"meta": {"b": "2"}}))["meta"] == {"b": "2"}
    assert ok(client.get(f"/v2.1/servers/{server_id}/metadata"))["metadata"] == {
        "a": "1", "b": "2"}
    assert client.delete(f"/v2.1/servers/{server_id}/metadata/a").status_code == 204
    assert ok(client.put(f"/v2.1/servers/{server_id}/metadata",
                         json={"metadata": {"c": "3"}}))["metadata"] == {"c": "3"}
    assert "vm_state building" in fault(client.post(
        f"/v2.1/servers/{server_id}/action", json={"os-stop": None}), 409)
    cc.report(server_id, status="ACTIVE")
    assert client.post(f"/v2.1/servers/{server_id}/action",
                       json={"os-stop": None}).status_code == 202
    stopped = show(cc, server_id)
    assert stopped["status"] == "SHUTOFF" and stopped["OS-EXT-STS:power_state"] == 4
    assert client.post(f"/v2.1/servers/{server_id}/action",
                       json={"os-start": None}).status_code == 202
    assert client.post(f"/v2.1/servers/{server_id}/action",
                       json={"reboot": {"type": "HARD"}}).status_code == 202
    assert show(cc, server_id)["status"] == "ACTIVE"
    assert "no such action" in fault(client.post(f"/v2.1/servers/{server_id}/action",
                                                 json={"os-fly": None}), 400)
