"""Issue 5's demo acceptance: ``tricircle-lb demo`` runs to the end and all four backends
answer; ``demo --cleanup`` removes what it made; a second run works; ``status --json``
shows hosts, amphorae and stretched networks.

It runs on a private deployment of its own: a fresh cloud, as a newcomer's
first `./scripts/demo` meets it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests_support import TRICIRCLE_LB, Cloud, clean_env, start_cloud, stop_cloud, wait_for

pytestmark = [pytest.mark.cloud, pytest.mark.root, pytest.mark.slow]

BACKENDS = {"backend1": "RegionOne", "backend2": "RegionOne", "backend3": "RegionTwo",
            "backend4": "RegionTwo"}
DEMO_TIMEOUT = 900


@pytest.fixture(scope="module")
def demo_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    cloud = start_cloud(tmp_path_factory.mktemp("demo"))
    try:
        yield cloud
    finally:
        stop_cloud(cloud)


@pytest.fixture(scope="module")
def first_run(demo_cloud: Cloud) -> dict[str, Any]:
    summary = run_demo(demo_cloud)
    assert_core(summary)
    return summary


def run_demo(cloud: Cloud, *extra: str) -> dict[str, Any]:
    result = cloud.cli("demo", "--non-interactive", "--json", "--failover-seconds", "8",
                       *extra, timeout=DEMO_TIMEOUT)
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def names(cloud: Cloud, *args: str, region: str = "RegionOne") -> set[str]:
    return {row["Name"] for row in cloud.openstack(*args, region=region)}


def lb_names(cloud: Cloud) -> set[str]:
    return {row["name"] for row in cloud.openstack("loadbalancer", "list")}


def assert_core(summary: dict[str, Any]) -> None:
    assert summary["ok"], summary
    assert summary["regions"] == BACKENDS
    assert set(summary["answers"]) == set(BACKENDS), summary
    assert sum(summary["answers"].values()) == 8  # --requests default, all answered
    assert summary["ha"]["status"] in ("ok", "failed", "skipped"), summary


def test_demo_runs_to_the_end_and_every_backend_answers(
        demo_cloud: Cloud, first_run: dict[str, Any]) -> None:
    assert {"lb1"} <= lb_names(demo_cloud)
    answers = demo_cloud.exec("RegionOne", "curl", "-s", "--max-time", "3",
                              f"http://{first_run['vip']}/", network="net1")
    assert answers.stdout.strip() in BACKENDS, answers


def test_status_json_shows_hosts_amphorae_and_stretched_networks(
        demo_cloud: Cloud, first_run: dict[str, Any]) -> None:
    status = json.loads(demo_cloud.cli("status", "--json").stdout)
    regions = {r["region"]: r for r in status["regions"]}
    one = regions["RegionOne"]
    assert [h["host"] for h in one["hosts"]] == [
        "RegionOne-controller", "RegionOne-host1", "RegionOne-host2"]
    assert all(h["agent_alive"] for h in one["hosts"])
    lb1 = demo_cloud.openstack("loadbalancer", "show", "lb1")
    amphorae = [a for a in one["amphorae"] if a["loadbalancer_id"] == lb1["id"]]
    assert len(amphorae) == 1
    assert amphorae[0]["role"] == "STANDALONE" and amphorae[0]["status"] == "ALLOCATED"
    assert amphorae[0]["host"].startswith("RegionOne-")
    assert amphorae[0]["lb_network_ip"].startswith("192.168.10.")
    # net1 has backends in both regions; net2 (RegionTwo) reached RegionOne through the
    # amphora's port (Fig. 2). Each region holds shadow ports of the other's.
    stretched = {n["name"]: n for n in status["stretched_networks"]}
    assert set(stretched) >= {"net1", "net2"}
    for name in ("net1", "net2"):
        assert stretched[name]["regions"] == ["RegionOne", "RegionTwo"]
        assert all(count >= 1 for count in stretched[name]["shadow_ports"].values())
    per_region = {n["name"] for n in regions["RegionTwo"]["stretched_networks"]}
    assert per_region >= {"net1", "net2"}


def _damage(cloud: Cloud) -> str:
    """What `status --json` shows of a damaged (or lately rebuilt) data plane; "" if
    nothing."""
    status = json.loads(cloud.cli("status", "--json").stdout)
    notes = []
    for region in status["regions"]:
        for host in region["hosts"]:
            dp = host["data_plane"]
            if not dp["ok"] or dp["last_repair"]:
                notes.append(f"{host['host']}: namespace {dp['namespace']}, "
                             f"error {dp['last_error']!r}, repair {dp['last_repair']!r}")
    return "; ".join(notes)


def _answering(cloud: Cloud, vip: str) -> set[str]:
    loop = f"for i in $(seq 12); do curl -s --max-time 2 http://{vip}/; echo; done"
    out = cloud.exec("RegionOne", "sh", "-c", loop, network="net1", timeout=180).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()} & set(BACKENDS)


def test_every_namespace_deleted_by_hand_comes_back_and_lb1_serves_again(
        demo_cloud: Cloud, first_run: dict[str, Any]) -> None:
    """Issue 9: a data plane that disappears (a host "reboots") comes back."""
    cloud = demo_cloud
    doomed = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                        text=True, check=True).stdout.split()
              if n.startswith(cloud.prefix)]
    assert len(doomed) >= 8  # underlay, six hosts, instances, amphorae, probes
    started = time.monotonic()
    for name in doomed:
        subprocess.run(["ip", "netns", "delete", name], check=True)
    seen = wait_for(lambda: _damage(cloud), timeout=30, interval=0.2,
                    what="status showing the damaged data plane")
    assert "namespace False" in seen or "rebuilt host namespace" in seen, seen
    wait_for(lambda: _answering(cloud, first_run["vip"]) == set(BACKENDS), timeout=180,
             interval=1, what="all four backends answering through lb1 again")
    print(f"lb1 served by all four backends {time.monotonic() - started:.1f}s after "
          f"{len(doomed)} namespaces were deleted")

    def whole() -> bool:
        status = json.loads(cloud.cli("status", "--json").stdout)
        return all(h["data_plane"]["ok"] for r in status["regions"] for h in r["hosts"])
    wait_for(whole, timeout=60, what="every host's data plane whole again")
    rebuilt = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                 check=True).stdout.split())
    hosts = [n for n in doomed if n.startswith(f"{cloud.prefix}h-")]
    assert set(hosts) <= rebuilt and f"{cloud.prefix}underlay" in rebuilt
    # `up` on the running deployment finds nothing left to repair.
    assert "nothing changed" in cloud.cli("up", "--detach").stdout


def test_up_on_a_damaged_deployment_repairs_it(demo_cloud: Cloud,
                                               first_run: dict[str, Any]) -> None:
    """With every agent frozen, only `up` can rebuild the underlay and a host."""
    cloud = demo_cloud
    status = json.loads(cloud.cli("status", "--json").stdout)
    agents = [cloud.pid(f"agent-{h['host']}") for r in status["regions"]
              for h in r["hosts"]]
    lost = [f"{cloud.prefix}underlay", f"{cloud.prefix}h-RegionTwo-host2"]
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        for name in lost:
            subprocess.run(["ip", "netns", "delete", name], check=True)
        out = cloud.cli("up", "--detach").stdout
        assert "repaired RegionTwo-host2: namespace missing" in out, out
        assert "data plane repaired" in out, out
        present = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        assert set(lost) <= set(present)
        ul0 = subprocess.run(["ip", "-n", lost[1], "-o", "addr", "show", "ul0"],
                             capture_output=True, text=True, check=True).stdout
        assert "198.18." in ul0
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGCONT)
    wait_for(lambda: _answering(cloud, first_run["vip"]) == set(BACKENDS), timeout=120,
             interval=1, what="all four backends answering through lb1 again")


def test_second_run_reuses_and_cleanup_removes_everything(
        demo_cloud: Cloud, first_run: dict[str, Any]) -> None:
    cloud = demo_cloud
    again = run_demo(cloud)
    assert_core(again)
    assert again["vip"] == first_run["vip"]
    assert [r["name"] for r in cloud.openstack("loadbalancer", "list")].count("lb1") == 1

    cleaned = cloud.cli("demo", "--cleanup", timeout=DEMO_TIMEOUT).stdout
    assert "deleted load balancer lb1" in cleaned
    assert not lb_names(cloud) & {"lb1", "lb2"}
    assert not names(cloud, "server", "list") & set(BACKENDS)
    assert not names(cloud, "server", "list", region="RegionTwo") & set(BACKENDS)
    assert not names(cloud, "network", "list", region="CentralRegion") & {"net1", "net2"}
    assert "nothing to remove" in cloud.cli("demo", "--cleanup").stdout


def test_demo_refuses_without_a_deployment(tmp_path: Path,
                                           topology_writer: Callable[..., Any]) -> None:
    config = tmp_path / "topology.ini"
    topology_writer(config, tmp_path / "state", 2)
    result = subprocess.run([TRICIRCLE_LB, "demo", "--config", str(config), "--state-dir",
                             str(tmp_path / "state")], capture_output=True, text=True,
                            env=clean_env(), timeout=60, check=False)
    assert result.returncode == 1
    assert "tricircle-lb up" in result.stderr
