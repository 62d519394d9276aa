"""Cross-region L2: agents' VTEPs on bound ports, shadow ports, port status."""

from __future__ import annotations

from typing import Any

from networking_testing import Cloud, error, ok


def report(cloud: Cloud, region: str, host: str, vtep: str) -> dict[str, Any]:
    body = {"agent": {"agent_type": "Linux bridge agent", "binary": "tricircle-lb-agent",
                      "tunnel_ip": vtep, "region": region,
                      "configurations": {"tunneling_ip": vtep}}}
    agent: dict[str, Any] = ok(cloud.client(region).put(f"/v1.0/agents/{host}", json=body))
    return agent["agent"]


def setup_net(cloud: Cloud) -> tuple[str, str]:
    central = cloud.client("CentralRegion")
    net = ok(central.post("/v2.0/networks", json={"network": {"name": "net1"}}), 201)
    sub = ok(central.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["network"]["id"], "cidr": "10.0.10.0/24", "gateway_ip": None}}), 201)
    return net["network"]["id"], sub["subnet"]["id"]


def bound_port(cloud: Cloud, region: str, net_id: str, host: str) -> dict[str, Any]:
    port: dict[str, Any] = ok(cloud.client(region).post("/v2.0/ports", json={"port": {
        "network_id": net_id, "binding:host_id": host, "device_owner": "compute:nova"}}),
        201)["port"]
    return port


def test_agents_are_listed_like_neutron_agents(cloud: Cloud) -> None:
    agent = report(cloud, "RegionOne", "r1-h1", "198.18.0.1")
    assert agent["alive"] is True and agent["host"] == "r1-h1"
    listed = ok(cloud.client("RegionOne").get("/v2.0/agents"))["agents"]
    assert [a["configurations"]["tunneling_ip"] for a in listed] == ["198.18.0.1"]
    error(cloud.client("RegionOne", "demo-token").get("/v2.0/agents"), 403)
    error(cloud.client("RegionOne", "demo-token").put(
        "/v1.0/agents/x", json={"agent": {"agent_type": "a", "binary": "b"}}), 403)
    bad = {"agent": {"agent_type": "a", "binary": "b", "tunnel_ip": "not-an-ip"}}
    error(cloud.client("RegionOne").put("/v1.0/agents/r1-h1", json=bad), 400)


def test_bound_port_carries_its_hosts_vtep(cloud: Cloud) -> None:
    report(cloud, "RegionOne", "r1-h1", "198.18.0.1")
    net_id, _ = setup_net(cloud)
    port = bound_port(cloud, "RegionOne", net_id, "r1-h1")
    assert port["binding:profile"] == {"region": "RegionOne", "host": "r1-h1",
                                       "tunnel_ip": "198.18.0.1"}
    assert port["binding:vif_type"] == "bridge"
    unknown = bound_port(cloud, "RegionOne", net_id, "nowhere")
    assert unknown["binding:vif_type"] == "binding_failed"
    assert "tunnel_ip" not in unknown["binding:profile"]


def test_shadow_ports_follow_bound_ports_across_regions(cloud: Cloud) -> None:
    report(cloud, "RegionOne", "r1-h1", "198.18.0.1")
    report(cloud, "RegionTwo", "r2-h1", "198.18.0.3")
    net_id, _ = setup_net(cloud)
    p1 = bound_port(cloud, "RegionOne", net_id, "r1-h1")
    p3 = bound_port(cloud, "RegionTwo", net_id, "r2-h1")
    cloud.run_jobs()

    def shadows(region: str) -> dict[str, dict[str, Any]]:
        ports = ok(cloud.client(region).get("/v2.0/ports", params={
            "network_id": net_id, "device_owner": "compute:shadow"}))["ports"]
        return {p["id"]: p for p in ports}

    in_one, in_two = shadows("RegionOne"), shadows("RegionTwo")
    assert set(in_one) == {p3["id"]} and set(in_two) == {p1["id"]}
    assert in_one[p3["id"]]["binding:profile"]["tunnel_ip"] == "198.18.0.3"
    assert in_one[p3["id"]]["mac_address"] == p3["mac_address"]
    assert in_one[p3["id"]]["fixed_ips"] == p3["fixed_ips"]
    routings = ok(cloud.client("CentralRegion").get(
        "/v1.0/routings", params={"resource_type": "shadow_port"}))["routings"]
    assert sorted(r["top_id"] for r in routings) == sorted([p1["id"], p3["id"]])

    # The last port of the network in RegionTwo goes: its shadow leaves RegionOne.
    ok(cloud.client("RegionTwo").delete(f"/v2.0/ports/{p3['id']}"), 204)
    cloud.run_jobs()
    assert shadows("RegionOne") == {}
    routings = ok(cloud.client("CentralRegion").get(
        "/v1.0/routings", params={"resource_type": "shadow_port"}))["routings"]
    assert [r["top_id"] for r in routings] == [p1["id"]]


def test_agent_reports_port_active(cloud: Cloud) -> None:
    report(cloud, "RegionOne", "r1-h1", "198.18.0.1")
    net_id, _ = setup_net(cloud)
    port = bound_port(cloud, "RegionOne", net_id, "r1-h1")
    assert port["status"] == "DOWN"
    r1 = cloud.client("RegionOne")
    done = ok(r1.put(f"/v1.0/ports/{port['id']}/status", json={"status": "ACTIVE"}))
    assert done["port"]["status"] == "ACTIVE"
    assert ok(r1.get(f"/v2.0/ports/{port['id']}"))["port"]["status"] == "ACTIVE"
    central = ok(cloud.client("CentralRegion").get(f"/v2.0/ports/{port['id']}"))
    assert central["port"]["status"] == "ACTIVE"
    error(cloud.client("RegionOne", "demo-token").put(
        f"/v1.0/ports/{port['id']}/status", json={"status": "DOWN"}), 403)
    error(r1.put(f"/v1.0/ports/{port['id']}/status", json={"status": "UP"}), 400)


def test_ports_bound_before_their_agent_reported_get_its_vtep(cloud: Cloud) -> None:
    net_id, _ = setup_net(cloud)
    early = bound_port(cloud, "RegionOne", net_id, "r1-late")
    assert early["binding:vif_type"] == "binding_failed"
    report(cloud, "RegionOne", "r1-late", "198.18.0.9")
    port = ok(cloud.client("RegionOne").get(f"/v2.0/ports/{early['id']}"))["port"]
    assert port["binding:profile"]["tunnel_ip"] == "198.18.0.9"
    assert port["binding:vif_type"] == "bridge"
    at_central = ok(cloud.client("CentralRegion").get(f"/v2.0/ports/{early['id']}"))["port"]
    assert at_central["binding:profile"]["tunnel_ip"] == "198.18.0.9"
