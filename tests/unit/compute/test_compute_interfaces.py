"""Interface attach and detach: ``server add port|network``, ``server remove port``."""

from __future__ import annotations

from typing import Any

from compute_testing import NOT_LOCATED, ComputeCloud, fault, ok

from tricircle_lb.compute.catalog import image_id_of


def active_server(cc: ComputeCloud, network_id: str) -> tuple[str, str]:
    resp = cc.compute().post("/v2.1/servers", json={"server": {
        "name": "vm1", "imageRef": image_id_of("RegionOne", "cirros"), "flavorRef": "42",
        "networks": [{"uuid": network_id}]}})
    server_id = str(ok(resp, 202)["server"]["id"])
    server = cc.report(server_id, status="ACTIVE")
    return server_id, str(server["OS-EXT-SRV-ATTR:host"])


def test_attach_port_and_network_then_detach(cc: ComputeCloud) -> None:
    net1, net2 = cc.make_network("net1"), cc.make_network("net2", cidr="10.0.20.0/24")
    server_id, host = active_server(cc, net1["id"])
    client = cc.compute()
    assert len(ok(client.get(f"/v2.1/servers/{server_id}/os-interface"))
               ["interfaceAttachments"]) == 1

    port = ok(cc.network("RegionOne", "demo-token").post("/v2.0/ports", json={"port": {
        "network_id": net2["id"]}}), 201)["port"]
    attached = ok(client.post(f"/v2.1/servers/{server_id}/os-interface", json={
        "interfaceAttachment": {"port_id": port["id"]}}))["interfaceAttachment"]
    assert attached["port_id"] == port["id"] and attached["net_id"] == net2["id"]
    assert attached["mac_addr"] == port["mac_address"]
    bound = ok(cc.network().get(f"/v2.0/ports/{port['id']}"))["port"]
    assert (bound["device_id"], bound["binding:host_id"]) == (server_id, host)

    by_net = ok(client.post(f"/v2.1/servers/{server_id}/os-interface", json={
        "interfaceAttachment": {"net_id": net2["id"],
                                "fixed_ips": [{"ip_address": "10.0.20.50"}]}}))
    created_port = by_net["interfaceAttachment"]["port_id"]
    assert by_net["interfaceAttachment"]["fixed_ips"][0]["ip_address"] == "10.0.20.50"
    shown = ok(client.get(f"/v2.1/servers/{server_id}"))["server"]
    assert sorted(a["addr"] for a in shown["addresses"]["net2"]) == [
        port["fixed_ips"][0]["ip_address"], "10.0.20.50"]
    assert "still in use" in fault(client.post(f"/v2.1/servers/{server_id}/os-interface",
                                               json={"interfaceAttachment": {
                                                   "port_id": port["id"]}}), 409)

    # Detach: the given port is unbound and kept, the created one deleted.
    assert client.delete(f"/v2.1/servers/{server_id}/os-interface/{port['id']}"
                         ).status_code == 202
    kept = ok(cc.network().get(f"/v2.0/ports/{port['id']}"))["port"]
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert client.delete(f"/v2.1/servers/{server_id}/os-interface/{created_port}"
                         ).status_code == 202
    assert [p["id"] for p in cc.central_ports(net2["id"])] == [port["id"]]
    assert fault(client.delete(f"/v2.1/servers/{server_id}/os-interface/{created_port}"),
                 404)
    names = list(ok(client.get(f"/v2.1/servers/{server_id}"))["server"]["addresses"])
    assert names == ["net1"]


def test_attach_refusals(cc: ComputeCloud) -> None:
    net1 = cc.make_network("net1")
    server_id, _ = active_server(cc, net1["id"])
    client = cc.compute()
    missing = "5e0fca2d-0000-4000-8000-000000000000"
    assert fault(client.post(f"/v2.1/servers/{server_id}/os-interface", json={
        "interfaceAttachment": {"port_id": missing}}), 404)
    assert fault(client.post(f"/v2.1/servers/{server_id}/os-interface", json={
        "interfaceAttachment": {"net_id": missing}}), 404)
    local: dict[str, Any] = {"provider:network_type": "local",
                             "availability_zone_hints": ["RegionTwo"], "shared": True}
    remote = cc.make_network("r2-only", "admin-token", cidr="10.0.30.0/24", **local)
    assert NOT_LOCATED in fault(client.post(f"/v2.1/servers/{server_id}/os-interface", json={
        "interfaceAttachment": {"net_id": remote["id"]}}), 400)
    assert cc.central_ports(remote["id"]) == []
    assert fault(cc.compute("alt-token").post(f"/v2.1/servers/{server_id}/os-interface",
                                              json={"interfaceAttachment": {
                                                  "net_id": net1["id"]}}), 404)


def test_user_deleting_an_attached_port_drops_it_from_the_server(cc: ComputeCloud) -> None:
    net1 = cc.make_network("net1")
    server_id, _ = active_server(cc, net1["id"])
    port_id = cc.ports_of(server_id)[0]["id"]
    assert cc.network().delete(f"/v2.0/ports/{port_id}").status_code == 204
    assert ok(cc.compute().get(f"/v2.1/servers/{server_id}"))["server"]["addresses"] == {}
