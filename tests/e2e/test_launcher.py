"""The launcher end to end: up, status, openrc with the real CLI, restarts, down."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests_support import wait_for
from tricircle_lb.deploy.processes import alive

if TYPE_CHECKING:
    from tests_support import Cloud

REPO = Path(__file__).resolve().parents[2]
TRICIRCLE_LB = str(Path(sys.executable).parent / "tricircle-lb")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OS_", "TRICIRCLE_LB_"))}


def _status(cloud: Cloud) -> dict[str, object]:
    return dict(json.loads(cloud.cli("status", "--json").stdout))


def _services(cloud: Cloud) -> dict[str, dict[str, object]]:
    services = _status(cloud)["services"]
    assert isinstance(services, list)
    return {s["name"]: s for s in services}


def _pid(cloud: Cloud, name: str) -> int:
    return int((cloud.state_dir / "run" / f"{name}.pid").read_text().split()[0])


@pytest.mark.cloud
def test_up_twice_reports_running_and_changes_nothing(cloud: Cloud) -> None:
    supervisor = _pid(cloud, "supervisor")
    services = {name: _pid(cloud, name) for name in _services(cloud)}
    result = cloud.cli("up", "--detach")
    assert "already running" in result.stdout
    assert _pid(cloud, "supervisor") == supervisor
    assert {name: _pid(cloud, name) for name in services} == services


@pytest.mark.cloud
def test_status_shows_every_service_up(cloud: Cloud) -> None:
    status = _status(cloud)
    assert status["phase"] == "ready"
    services = _services(cloud)
    assert services["identity"]["status"] == "up"
    assert services["identity"]["url"] == f"http://127.0.0.1:{cloud.ports['identity']}"
    for name, svc in services.items():
        assert svc["status"] == "up", name
        assert isinstance(svc["pid"], int)
    table = cloud.cli("status").stdout
    assert "identity" in table and "up" in table


@pytest.mark.cloud
def test_openrc_makes_the_openstack_cli_work(cloud: Cloud) -> None:
    out = cloud.cli("openrc").stdout
    env = clean_env()
    for line in out.splitlines():
        assert line.startswith("export OS_")
    # Evaluate it as a user would.
    shell = subprocess.run(["bash", "-c", f'eval "$({TRICIRCLE_LB} openrc --config '
                                          f'{cloud.config} --state-dir {cloud.state_dir})" '
                                          "&& env"],
                           capture_output=True, text=True, env=env, check=True)
    got = dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)
    assert got["OS_AUTH_URL"] == cloud.identity_url
    assert got["OS_PASSWORD"] == cloud.admin_password
    assert got["OS_REGION_NAME"] == "RegionOne"
    assert got["OS_IDENTITY_API_VERSION"] == "3"

    token = cloud.openstack("token", "issue")
    assert token["id"] and token["project_id"]
    regions = {r["Region"] for r in cloud.openstack("region", "list")}
    assert {"CentralRegion", "RegionOne", "RegionTwo"} <= regions
    catalog = {s["Type"]: s for s in cloud.openstack("catalog", "list")}
    assert "identity" in catalog
    demo = cloud.openstack("token", "issue", project="demo")
    assert demo["project_id"] != token["project_id"]


@pytest.mark.cloud
def test_admin_password_is_random_private_and_not_in_the_source(cloud: Cloud) -> None:
    password = cloud.admin_password
    assert len(password) >= 24
    secrets_file = cloud.state_dir / "secrets.ini"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    for config in (cloud.state_dir / "etc").iterdir():
        assert stat.S_IMODE(config.stat().st_mode) == 0o600, config
    assert password in (cloud.state_dir / "etc" / "identity.ini").read_text()
    for folder in ("src", "tests", "scripts", "docs"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".ini", ".md", ".sh", ".txt", ""):
                assert password not in path.read_text(errors="ignore"), path


@pytest.mark.cloud
def test_kill_9_of_a_service_is_followed_by_a_restart(cloud: Cloud) -> None:
    for name in _services(cloud):
        old = _pid(cloud, name)
        os.kill(old, signal.SIGKILL)
        url = (cloud.identity_url.removesuffix("/v3") if name == "identity"
               else cloud.central_url if name == "central"
               else f"http://127.0.0.1:{cloud.ports[name]}"
               if name.startswith(("compute-", "loadbalancer-", "key-manager"))
               else cloud.region_urls.get(name.removeprefix("region-")))
        deadline = time.monotonic() + 60
        while True:
            try:
                new = _pid(cloud, name)
                if new != old and (url is None  # a host agent: no API, a new process
                                   or httpx.get(f"{url}/healthcheck",
                                                timeout=2).status_code == 200):
                    break
            except (httpx.HTTPError, OSError, ValueError):
                pass
            assert time.monotonic() < deadline, f"{name} was not restarted"
            time.sleep(0.2)
    # Still usable through the real client after the restarts.
    assert cloud.openstack("token", "issue")["id"]


@pytest.mark.cloud
def test_logs_are_json_lines_with_request_ids(cloud: Cloud) -> None:
    rid = "req-12345678-1234-1234-1234-123456789abc"
    resp = httpx.get(f"{cloud.identity_url}", headers={"X-Openstack-Request-Id": rid})
    assert resp.headers["X-Openstack-Request-Id"] == rid
    log = cloud.state_dir / "log" / "identity.log"
    deadline = time.monotonic() + 10
    while True:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        if any(e.get("request_id") == rid for e in entries):
            break
        assert time.monotonic() < deadline, "request id not logged"
        time.sleep(0.2)
    assert all({"time", "level", "service", "message"} <= e.keys() for e in entries)
    for line in (cloud.state_dir / "log" / "supervisor.log").read_text().splitlines():
        json.loads(line)


@pytest.mark.cloud
@pytest.mark.slow
def test_down_stops_everything_is_safe_twice_and_purge_removes_state(
        tmp_path: Path, cloud_factory: Callable[..., Cloud]) -> None:
    c = cloud_factory(tmp_path, regions=1)
    pids = [int(p.read_text().split()[0]) for p in (c.state_dir / "run").glob("*.pid")]
    assert len(pids) >= 2
    # Barbican is gunicorn: a master in its pid file and workers of its own, none of
    # which may outlive down; its key-encryption key never reaches its log.
    barbican = _pid(c, "key-manager")
    workers = _children(barbican)
    assert workers, "gunicorn has no worker"
    assert _port_open(c.ports["key-manager"])
    kek = (c.state_dir / "secrets.ini").read_text().split("key_manager_kek = ")[1].split()[0]
    assert kek not in (c.state_dir / "log" / "key-manager.log").read_text()
    first = c.cli("down")
    assert "stopped" in first.stdout
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), pid
    wait_for(lambda: not any(alive(p) for p in (barbican, *workers)), timeout=20,
             interval=0.2, what="Barbican's master and workers stopped by down")
    assert not _port_open(c.ports["key-manager"])
    assert not list((c.state_dir / "run").glob("*.pid"))
    assert c.state_dir.exists()
    second = c.cli("down")
    assert second.returncode == 0 and "nothing running" in second.stdout
    # A later up finds its secrets again (same password, same data).
    password = c.admin_password
    c.cli("up", "--detach")
    assert password in (c.state_dir / "secrets.ini").read_text()
    c.cli("down", "--purge")
    assert not c.state_dir.exists()
    assert c.cli("down", "--purge").returncode == 0


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_up_refuses_busy_ports_and_starts_nothing(
        tmp_path: Path, topology_writer: Callable[[Path, Path, int], dict[str, int]]) -> None:
    config = tmp_path / "topology.ini"
    state = tmp_path / "state"
    ports = topology_writer(config, state, 1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["central"]))
        busy.listen()
        result = subprocess.run([TRICIRCLE_LB, "up", "--detach", "--config", str(config)],
                                capture_output=True, text=True, env=clean_env(),
                                timeout=60, check=False)
    assert result.returncode == 1
    assert "in use" in result.stderr and str(ports["central"]) in result.stderr
    assert not (state / "run" / "supervisor.pid").exists()


def test_openrc_without_a_deployment_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run([TRICIRCLE_LB, "openrc", "--state-dir", str(tmp_path / "none")],
                            capture_output=True, text=True, env=clean_env(), timeout=60,
                            check=False)
    assert result.returncode == 1
    assert "tricircle-lb up" in result.stderr
    assert "OS_PASSWORD" not in result.stdout


def test_bad_topology_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.ini"
    config.write_text("[identity]\nport = 5000\n[central]\nport = 5000\n"
                      "[region:RegionOne]\navailability_zone = az1\nnetwork_port = 9701\n"
                      "mgmt_subnet_cidr = 192.168.10.0/24\n")
    result = subprocess.run([TRICIRCLE_LB, "status", "--config", str(config)],
                            capture_output=True, text=True, env=clean_env(), timeout=60,
                            check=False)
    assert result.returncode == 1
    assert "[central] port = 5000 is already used by [identity] port" in result.stderr


@pytest.mark.cloud
def test_a_request_id_follows_a_request_from_a_region_to_central(cloud: Cloud) -> None:
    token = cloud.admin_token()
    headers = {"X-Auth-Token": token}
    net = httpx.post(f"{cloud.central_url}/v2.0/networks", headers=headers, timeout=30,
                     json={"network": {"name": "rid-trace"}}).json()["network"]
    rid = "req-87654321-4321-4321-4321-cba987654321"
    # RegionTwo does not hold the network yet: it fetches it from central.
    resp = httpx.get(f"{cloud.region_urls['RegionTwo']}/v2.0/networks/{net['id']}",
                     headers={**headers, "X-Openstack-Request-Id": rid}, timeout=30)
    assert resp.status_code == 200
    assert resp.headers["X-Openstack-Request-Id"] == rid
    for service in ("region-RegionTwo", "central"):
        log = cloud.state_dir / "log" / f"{service}.log"
        deadline = time.monotonic() + 10
        while not any(json.loads(line).get("request_id") == rid
                      for line in log.read_text().splitlines() if line):
            assert time.monotonic() < deadline, f"{rid} not in {service}'s log"
            time.sleep(0.2)
    httpx.delete(f"{cloud.central_url}/v2.0/networks/{net['id']}", headers=headers, timeout=30)
