"""A group given to a port at central reaches the regions with the port's sync, so the
host agents of a region can read its rules there (the load balancer's VIP group)."""

from __future__ import annotations

from networking_testing import Cloud, ok


def test_a_port_sync_mirrors_the_groups_central_gave_it(cloud: Cloud) -> None:
    central, r1 = cloud.client("CentralRegion"), cloud.client("RegionOne")
    net = ok(central.post("/v2.0/networks", json={"network": {"name": "net1"}}), 201)["network"]
    ok(central.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.10.0/24", "ip_version": 4}}), 201)
    port = ok(r1.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)["port"]
    group = ok(central.post("/v2.0/security-groups", json={"security_group": {
        "name": "lb-vip"}}), 201)["security_group"]
    ok(central.post("/v2.0/security-group-rules", json={"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": 80, "port_range_max": 80}}), 201)
    ok(central.put(f"/v2.0/ports/{port['id']}", json={"port": {
        "security_groups": [group["id"]]}}))
    cloud.run_jobs()
    default = port["security_groups"][0]
    # What the agent asks: its ports' groups by id, one of them already a mirror.
    cloud.router.down.add("central.test")
    listed = ok(r1.get("/v2.0/security-groups", params=[("id", default),
                                                        ("id", group["id"])]))
    rules = {g["id"]: [(r["direction"], r["protocol"], r["port_range_min"])
                       for r in g["security_group_rules"]]
             for g in listed["security_groups"]}
    assert ("ingress", "tcp", 80) in rules[group["id"]]
    assert default in rules
