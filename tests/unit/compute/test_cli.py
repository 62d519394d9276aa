"""Real clients against compute under uvicorn, with a real identity: openstack CLI,
python-novaclient and keystoneauth negotiate microversions and find both APIs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tricircle_lb.compute.app import create_app as create_compute_app
from tricircle_lb.identity.app import create_app as create_identity_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "identity"))
from identity_testing import ADMIN_PASSWORD, write_config

OPENSTACK = Path(sys.executable).parent / "openstack"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app: FastAPI, port: int) -> uvicorn.Server:
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                        access_log=False))
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return srv


def _admin_session(identity: str) -> ks_session.Session:
    auth = v3.Password(auth_url=f"{identity}/v3", username="admin", password=ADMIN_PASSWORD,
                       project_name="admin", user_domain_name="Default",
                       project_domain_name="Default")
    return ks_session.Session(auth=auth)


def _register(identity: str, compute: str) -> None:
    """What the deployment tool registers for a region's compute service."""
    token = _admin_session(identity).get_token()
    with httpx.Client(base_url=identity, headers={"X-Auth-Token": str(token)}) as client:
        assert client.post("/v3/regions", json={"region": {"id": "RegionOne"}}
                           ).status_code == 201
        for kind, name, url in (("identity", "keystone", f"{identity}/v3"),
                                ("compute", "nova", f"{compute}/v2.1"),
                                ("image", "glance", f"{compute}/image")):
            service = client.post("/v3/services", json={"service": {
                "type": kind, "name": name}}).json()["service"]
            assert client.post("/v3/endpoints", json={"endpoint": {
                "service_id": service["id"], "interface": "public", "region_id": "RegionOne",
                "url": url}}).status_code == 201


@pytest.fixture
def clouds(tmp_path: Path) -> Iterator[tuple[str, str, FastAPI]]:
    identity_port, compute_port = _free_port(), _free_port()
    identity = f"http://127.0.0.1:{identity_port}"
    compute = f"http://127.0.0.1:{compute_port}"
    servers = [_serve(create_identity_app(write_config(tmp_path)), identity_port)]
    try:
        _register(identity, compute)
        config = tmp_path / "compute.ini"
        config.write_text(f"""
[DEFAULT]
database_url = sqlite:///{tmp_path / 'compute.db'}
log_file = {tmp_path / 'compute.log'}
[keystone_authtoken]
auth_url = {identity}/v3
username = admin
password = {ADMIN_PASSWORD}
project_name = admin
[compute]
region_name = RegionOne
availability_zone = az1
hosts = RegionOne-host1,RegionOne-host2
""")
        app = create_compute_app(config)
        servers.append(_serve(app, compute_port))
        yield identity, compute, app
    finally:
        for srv in servers:
            srv.should_exit = True


def _run(identity: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update({
        "OS_AUTH_URL": f"{identity}/v3", "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "admin", "OS_PASSWORD": ADMIN_PASSWORD, "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne", "OS_CLIENT_CONFIG_FILE": "/dev/null",
    })
    result = subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _openstack(identity: str, *args: str) -> Any:
    out = _run(identity, *args, "-f", "json")
    return json.loads(out) if out.strip() else None


def test_keystoneauth_discovers_microversions(clouds: tuple[str, str, FastAPI]) -> None:
    identity, compute, _ = clouds
    sess = _admin_session(identity)
    data = sess.get_endpoint_data(service_type="compute", region_name="RegionOne",
                                  interface="public")
    assert data is not None
    assert data.min_microversion == (2, 1) and data.max_microversion == (2, 79)
    image = sess.get_endpoint(service_type="image", region_name="RegionOne",
                              interface="public", min_version="2")
    assert image == f"{compute}/image/v2/"


def test_novaclient_negotiates(clouds: tuple[str, str, FastAPI]) -> None:
    from novaclient import api_versions
    from novaclient import client as nova_client

    identity, _, _ = clouds
    sess = _admin_session(identity)
    probe = nova_client.Client("2.1", session=sess, region_name="RegionOne")
    version = api_versions.discover_version(probe, api_versions.APIVersion("2.latest"))
    assert version.get_string() == "2.79"
    nova = nova_client.Client(version, session=sess, region_name="RegionOne")
    assert {f.name for f in nova.flavors.list()} == {"m1.tiny", "m1.small", "m1.medium",
                                                     "m1.large", "m1.nano"}
    assert nova.servers.list() == []
    assert [z.zoneName for z in nova.availability_zones.list(detailed=False)] == ["az1"]


@pytest.mark.skipif(not OPENSTACK.exists(), reason="python-openstackclient not installed")
def test_openstack_cli(clouds: tuple[str, str, FastAPI]) -> None:
    identity, _, _ = clouds
    flavors = _openstack(identity, "--os-compute-api-version", "2.79", "flavor", "list")
    assert {f["Name"] for f in flavors} >= {"m1.tiny", "m1.nano"}
    assert next(f["Name"] for f in _openstack(identity, "flavor", "list")) == "m1.tiny"
    images = _openstack(identity, "image", "list")
    assert {i["Name"] for i in images} == {"cirros", "amphora-x64-haproxy"}
    tagged = _openstack(identity, "image", "list", "--tag", "amphora")
    assert [i["Name"] for i in tagged] == ["amphora-x64-haproxy"]

    created = _openstack(identity, "server", "create", "--image", "cirros", "--flavor",
                         "m1.tiny", "--nic", "none", "--availability-zone", "az1",
                         "--property", "role=test", "vm1")
    assert created["status"] == "BUILD"
    server_id = created["id"]
    # The host agent's report (admin) makes it ACTIVE, with a console.
    sess = _admin_session(identity)
    compute_url = sess.get_endpoint(service_type="compute", region_name="RegionOne",
                                    interface="public")
    resp = httpx.put(f"{compute_url}/os-host-agent/servers/{server_id}",
                     headers={"X-Auth-Token": str(sess.get_token())},
                     json={"server": {"status": "ACTIVE", "power_state": 1,
                                      "console_log": "vm1 login: cirros\n"}})
    assert resp.status_code == 200, resp.text
    shown = _openstack(identity, "server", "show", "vm1")
    assert shown["status"] == "ACTIVE" and shown["properties"] == {"role": "test"}
    assert shown["OS-EXT-SRV-ATTR:host"] in ("RegionOne-host1", "RegionOne-host2")
    listed = _openstack(identity, "server", "list")
    assert [(s["Name"], s["Status"], s["Flavor"]) for s in listed] == [
        ("vm1", "ACTIVE", "m1.tiny")]
    assert "vm1 login: cirros" in _run(identity, "console", "log", "show", "vm1")
    assert len(_openstack(identity, "hypervisor", "list")) == 2
    _run(identity, "server", "delete", "--wait", "vm1")
    assert _openstack(identity, "server", "list") == []
