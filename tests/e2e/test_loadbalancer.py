"""Issue 4's acceptance: the spec's scenario with the real ``openstack`` CLI and real traffic.

The spec's lb1 (here ``lb-e2e``, so the demo's names stay free) lives in
RegionOne on subnet1 (lb-net1). Its members are backend1 and backend2
(RegionOne, lb-net1), backend3 (RegionTwo, lb-net1: Fig. 1, the same subnet
stretched across regions) and backend4 (RegionTwo, lb-net2/subnet2: Fig. 2,
another subnet of a network living in RegionTwo, which the amphora gets a
port on); the servers are called ``lb-backend1`` … for the same reason.
Every request is a real packet from a probe on lb-net1 through HAProxy in
the amphora's namespace.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest
from lb_support import (
    BACKENDS,
    NET1,
    NET2,
    amphora_namespace,
    counts,
    lbs_active,
    listener,
    member,
    pool,
    requests,
    wait_for,
)

from tests_support import Cloud

pytestmark = [pytest.mark.cloud, pytest.mark.root]

def test_spec_scenario_all_four_backends_answer_in_turn(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    vip = spec["lb"]["vip_address"]
    answers = requests(cloud, NET1, f"http://{vip}/", 8)
    assert counts(answers) == {b: 2 for b in BACKENDS}, answers
    # Round robin: each block of four requests meets every backend once.
    assert set(answers[:4]) == set(BACKENDS) and set(answers[4:]) == set(BACKENDS)
    lb = cloud.openstack("loadbalancer", "show", "lb-e2e")
    assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
    amphorae = cloud.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    assert len(amphorae) == 1 and amphorae[0]["status"] == "ALLOCATED"
    # Fig. 2: the amphora got a port on net2, which stretched net2 into RegionOne.
    ports = cloud.openstack("port", "list", "--network", NET2, "--long",
                            region="CentralRegion")
    assert any(p["Name"].startswith("octavia-amp-") for p in ports), ports


def test_status_tree_and_stats_come_from_the_amphora(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    requests(cloud, NET1, f"http://{spec['lb']['vip_address']}/", 4)

    def counted() -> dict[str, Any] | None:
        stats: dict[str, Any] = cloud.openstack("loadbalancer", "stats", "show", "lb-e2e")
        return stats if stats["total_connections"] >= 4 else None
    stats = wait_for(counted, 20, what="statistics from heartbeats")
    assert stats["bytes_in"] > 0 and stats["bytes_out"] > 0
    shown = cloud.openstack_raw("loadbalancer", "status", "show", "lb-e2e")  # JSON already
    assert shown.returncode == 0, shown.stderr
    tree = json.loads(shown.stdout)["loadbalancer"]
    pool = tree["listeners"][0]["pools"][0]
    assert {m["name"] for m in pool["members"]} == set(BACKENDS)


def test_member_on_local_network_of_other_region_is_refused(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    cloud.openstack("network", "create", "--provider-network-type", "local", "lb-local2",
                    region="RegionTwo")
    subnet = cloud.openstack("subnet", "create", "--network", "lb-local2", "--subnet-range",
                             "10.0.30.0/24", "lb-local2-subnet", region="RegionTwo")
    result = cloud.openstack_raw("loadbalancer", "member", "create", "--subnet-id",
                                 subnet["id"], "--address", "10.0.30.5", "--protocol-port",
                                 "80", "pool1")
    assert result.returncode != 0
    # The CLI resolves the subnet through RegionOne's networking first, which refuses
    # it as the spec says; Octavia's API refuses it the same way (tests/unit).
    assert "network not located in current region" in result.stderr
    assert "400" in result.stderr
    members = cloud.openstack("loadbalancer", "member", "list", "pool1")
    assert {m["name"] for m in members} == set(BACKENDS)
    assert cloud.openstack("loadbalancer", "show", "lb-e2e")["provisioning_status"] == "ACTIVE"


def test_cascade_delete_removes_amphora_ports_and_shadows(
        cloud: Cloud, spec: dict[str, Any]) -> None:
    made = cloud.openstack("loadbalancer", "create", "--name", "lb-doomed",
                           "--vip-subnet-id", spec["subnet1"]["id"])
    lb = lbs_active(cloud, [str(made["id"])])[str(made["id"])]
    listener(cloud, "doomed-l", "HTTP", 80, lb="lb-doomed")
    pool(cloud, "doomed-p", "doomed-l", "HTTP", "ROUND_ROBIN")
    member(cloud, "doomed-p", spec, "lb-backend4")
    amphora = cloud.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])[0]
    namespace = amphora_namespace(cloud, amphora["id"])
    assert namespace in _namespaces()
    result = cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-doomed")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: namespace not in _namespaces(), 30, what="amphora namespace removed")
    for region in ("CentralRegion", "RegionOne", "RegionTwo"):
        ports = cloud.openstack("port", "list", "--long", region=region)
        assert not [p for p in ports if amphora["id"] in p["Name"]
                    or p["Name"] == f"octavia-lb-{lb['id']}"], (region, ports)
    # No shadow port of the deleted amphora's net2 port is left in RegionTwo.
    shadows = cloud.openstack("port", "list", "--device-owner", "compute:shadow", "--long",
                              region="RegionTwo")
    assert not [p for p in shadows if amphora["id"] in p["Name"]]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_every_service_and_agent_exposes_metrics(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    requests(cloud, NET1, f"http://{spec['lb']['vip_address']}/", 2)
    status = json.loads(cloud.cli("status", "--json").stdout)
    for service in status["services"]:
        if service["name"].startswith("agent-"):
            continue  # agents have no API: below
        if service["name"] == "key-manager":
            continue  # the real Barbican: not our code, no /metrics
        text = httpx.get(f"{service['url']}/metrics", timeout=10).text
        assert "tricircle_api_requests_total" in text, service["name"]
        # Central networking and the load-balancer services run durable job workers.
        if service["name"] == "central" or service["name"].startswith("loadbalancer-"):
            assert "tricircle_jobs" in text, service["name"]
    lb_metrics = httpx.get(f"http://127.0.0.1:{cloud.ports['loadbalancer-RegionOne']}/metrics",
                           timeout=10).text
    # The HAProxy figures the amphora reports, per listener and member (Octavia's names).
    listener_id = http_pool["listeners"][0]["id"]
    assert f'listener="{listener_id}"' in lb_metrics
    assert "octavia_listener_sessions_total" in lb_metrics
    assert "octavia_member_status" in lb_metrics
    agents = sorted((cloud.state_dir / "run").glob("agent-*.metrics"))
    assert len(agents) == 6, agents
    for path in agents:
        port = int(path.read_text())
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "tricircle_agent_reconcile_seconds_count" in text, path.name
