"""Issue 4's acceptance, continued: protocols, algorithms, persistence, weights, health
monitors, L7 and member changes under load, all on lb1 of the spec's scenario with
real requests from a probe on net1 in RegionOne."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lb_support import (
    BACKENDS,
    NET1,
    counts,
    lb_wait,
    lbs_active,
    listener,
    member,
    pool,
    requests,
    wait_for,
)

from tests_support import TRICIRCLE_LB, Cloud, clean_env

pytestmark = [pytest.mark.cloud, pytest.mark.root]


def _vip(spec: dict[str, Any]) -> str:
    return str(spec["lb"]["vip_address"])


@pytest.fixture(scope="module")
def tcp_pool(cloud: Cloud, spec: dict[str, Any]) -> dict[str, Any]:
    """listener-tcp (TCP 8080) → pool-tcp (TCP, SOURCE_IP persistence) with the four."""
    listener(cloud, "listener-tcp", "TCP", 8080)
    made = pool(cloud, "pool-tcp", "listener-tcp", "TCP", "ROUND_ROBIN",
                "--session-persistence", "type=SOURCE_IP")
    for backend in BACKENDS:
        member(cloud, "pool-tcp", spec, backend)
    return made


def test_tcp_listener_with_source_ip_persistence_sticks(
        cloud: Cloud, spec: dict[str, Any], tcp_pool: dict[str, Any]) -> None:
    answers = requests(cloud, NET1, f"http://{_vip(spec)}:8080/", 8)
    assert len(set(answers)) == 1 and answers[0] in BACKENDS, answers


def test_least_connections_and_weights(cloud: Cloud, spec: dict[str, Any],
                                       tcp_pool: dict[str, Any]) -> None:
    for change in (("unset", "--session-persistence"),
                   ("set", "--lb-algorithm", "LEAST_CONNECTIONS")):
        done = cloud.openstack_raw("loadbalancer", "pool", *change, "pool-tcp")
        assert done.returncode == 0, done.stderr
        lbs_active(cloud, [spec["lb"]["id"]])
    got = cloud.openstack("loadbalancer", "pool", "show", "pool-tcp")
    assert got["lb_algorithm"] == "LEAST_CONNECTIONS" and not got["session_persistence"]
    answers = requests(cloud, NET1, f"http://{_vip(spec)}:8080/", 8)
    assert set(answers) == set(BACKENDS), answers
    # Weight 0 drains: backend1 gets no new connection; the others still do.
    done = cloud.openstack_raw("loadbalancer", "member", "set", "--weight", "0",
                               "pool-tcp", "lb-backend1")
    assert done.returncode == 0, done.stderr
    lbs_active(cloud, [spec["lb"]["id"]])
    answers = requests(cloud, NET1, f"http://{_vip(spec)}:8080/", 9)
    assert set(answers) == set(BACKENDS) - {"lb-backend1"}, answers
    done = cloud.openstack_raw("loadbalancer", "member", "set", "--weight", "1",
                               "pool-tcp", "lb-backend1")
    assert done.returncode == 0, done.stderr
    lbs_active(cloud, [spec["lb"]["id"]])


def test_health_monitor_takes_a_dead_backend_out_and_back(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    cloud.openstack("loadbalancer", "healthmonitor", "create", "--name", "hm1", "--delay", "1",
                    "--timeout", "1", "--max-retries", "1", "--max-retries-down", "2",
                    "--type", "HTTP", "--url-path", "/", "pool1")
    lbs_active(cloud, [spec["lb"]["id"]])

    def member_status(name: str) -> str:
        return str(cloud.openstack("loadbalancer", "member", "show", "pool1",
                                   name)["operating_status"])
    wait_for(lambda: all(member_status(b) == "ONLINE" for b in BACKENDS), 30,
             what="members ONLINE")
    stopped = time.monotonic()
    cloud.exec("RegionTwo", "pkill", "-f", "tcl-web", server="lb-backend3")
    wait_for(lambda: member_status("lb-backend3") == "ERROR", 20, what="backend3 ERROR")
    detected = time.monotonic() - stopped
    # delay x max_retries_down = 2 s of checks, plus up to two heartbeats.
    assert detected < 10, detected
    assert cloud.openstack("loadbalancer", "pool", "show", "pool1")["operating_status"] \
        == "DEGRADED"
    answers = requests(cloud, NET1, f"http://{_vip(spec)}/", 9)
    assert set(answers) == set(BACKENDS) - {"lb-backend3"}, answers
    cloud.exec("RegionTwo", "sh", "-c",
               "nohup python3 /tmp/tcl-web-lb-backend3.py 80 >/dev/null 2>&1 &",
               server="lb-backend3")
    wait_for(lambda: member_status("lb-backend3") == "ONLINE", 20, what="backend3 ONLINE again")
    wait_for(lambda: cloud.openstack("loadbalancer", "pool", "show", "pool1")[
        "operating_status"] == "ONLINE", 10, what="pool1 ONLINE again")
    assert cloud.openstack_raw("loadbalancer", "healthmonitor", "delete", "hm1").returncode == 0
    lb_wait(cloud, "pool", "pool1")


def test_l7_redirect_to_pool_sends_api_to_the_other_region(
        cloud: Cloud, spec: dict[str, Any], http_pool: dict[str, Any]) -> None:
    cloud.openstack("loadbalancer", "pool", "create", "--name", "pool-api", "--loadbalancer",
                    "lb-e2e", "--protocol", "HTTP", "--lb-algorithm", "ROUND_ROBIN")
    lbs_active(cloud, [spec["lb"]["id"]])
    for backend in ("lb-backend3", "lb-backend4"):
        member(cloud, "pool-api", spec, backend)
    cloud.openstack("loadbalancer", "l7policy", "create", "--name", "api",
                    "--action", "REDIRECT_TO_POOL", "--redirect-pool", "pool-api",
                    "listener1")
    lbs_active(cloud, [spec["lb"]["id"]])
    cloud.openstack("loadbalancer", "l7rule", "create", "--type", "PATH", "--compare-type",
                    "STARTS_WITH", "--value", "/api", "api")
    lbs_active(cloud, [spec["lb"]["id"]])
    api = requests(cloud, NET1, f"http://{_vip(spec)}/api/items", 6)
    assert set(api) == {"lb-backend3", "lb-backend4"}, api
    rest = requests(cloud, NET1, f"http://{_vip(spec)}/index.html", 8)
    assert set(rest) == set(BACKENDS), rest
    assert cloud.openstack_raw("loadbalancer", "l7policy", "delete", "api").returncode == 0
    lb_wait(cloud, "listener", "listener1")


def _load(cloud: Cloud, url: str, seconds: int, stop: Path) -> subprocess.Popen[str]:
    """A bounded request loop from a probe on net1: one line per request. It runs
    ``seconds``, or until ``stop`` exists (the probe shares our file system)."""
    script = (f'end=$(( $(date +%s) + {seconds} )); '
              f'while [ "$(date +%s)" -lt "$end" ] && [ ! -e "{stop}" ]; do '
              f'out=$(curl -s --max-time 5 "{url}") || out="FAIL:$?"; echo "$out"; done')
    return subprocess.Popen(
        [TRICIRCLE_LB, "exec", "--region", "RegionOne", "--network", NET1, "--keep-probe",
         "--config", str(cloud.config), "--state-dir", str(cloud.state_dir), "--",
         "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
        stdin=subprocess.DEVNULL)


def test_member_add_and_remove_under_load_fails_no_request(
        cloud: Cloud, spec: dict[str, Any], tmp_path: Path) -> None:
    listener(cloud, "listener-load", "HTTP", 8081)
    pool(cloud, "pool-load", "listener-load", "HTTP", "ROUND_ROBIN")
    member(cloud, "pool-load", spec, "lb-backend1")
    url = f"http://{_vip(spec)}:8081/"
    requests(cloud, NET1, url, 1)  # the probe exists before the loop starts
    stop = tmp_path / "stop-load"
    load = _load(cloud, url, 25, stop)
    try:
        for backend in ("lb-backend2", "lb-backend3", "lb-backend4"):
            member(cloud, "pool-load", spec, backend)
        for backend in ("lb-backend2", "lb-backend3"):
            gone = cloud.openstack_raw("loadbalancer", "member", "delete", "--wait",
                                       "pool-load", backend)
            assert gone.returncode == 0, gone.stderr
        # A few seconds of requests after the last change; then the loop need not run
        # out its 25 s (the bound for slow changes).
        time.sleep(3)
    finally:
        stop.touch()
        out, err = load.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.strip()]
    failures = [line for line in lines if line.startswith("FAIL")]
    assert len(lines) > 50, (lines, err)
    assert not failures, counts(lines)
    assert {"lb-backend1", "lb-backend4"} <= set(lines), counts(lines)
