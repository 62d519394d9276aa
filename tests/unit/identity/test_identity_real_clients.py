"""The real service under uvicorn, driven by keystoneauth1 and the openstack CLI."""

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

import httpx
import openstack
import pytest
import uvicorn
from identity_testing import ADMIN_PASSWORD, write_config
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneauth1.identity.generic import password as generic_password

from tricircle_lb.common.auth import RemoteTokenValidator
from tricircle_lb.common.config import AuthConfig
from tricircle_lb.common.errors import Unauthorized
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.identity.app import create_app

OPENSTACK = Path(sys.executable).parent / "openstack"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    app = create_app(write_config(tmp_path))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                            access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _register_endpoint(url: str) -> None:
    """What the launcher does (as devstack): regions, services, endpoints, by the public API."""
    auth = v3.Password(auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD,
                       project_name="admin", user_domain_id="default",
                       project_domain_id="default")
    token = ks_session.Session(auth=auth).get_token()
    headers = {"X-Auth-Token": str(token)}
    with httpx.Client(base_url=url, headers=headers) as client:
        assert client.post("/v3/regions", json={"region": {"id": "RegionOne"}}
                           ).status_code == 201
        for kind, name, endpoint in (("identity", "keystone", f"{url}/v3"),
                                     ("load-balancer", "octavia", "http://lb.example:9876")):
            service = client.post("/v3/services", json={"service": {
                "type": kind, "name": name}}).json()["service"]
            assert client.post("/v3/endpoints", json={"endpoint": {
                "service_id": service["id"], "interface": "public", "region_id": "RegionOne",
                "url": endpoint}}).status_code == 201


def test_keystoneauth_session(server: str) -> None:
    _register_endpoint(server)
    auth = v3.Password(auth_url=f"{server}/v3", username="admin", password=ADMIN_PASSWORD,
                       project_name="admin", user_domain_name="Default",
                       project_domain_name="Default")
    sess = ks_session.Session(auth=auth)
    assert sess.get_token()
    assert sess.get_project_id()
    url = sess.get_endpoint(service_type="load-balancer", interface="public",
                            region_name="RegionOne")
    assert url == "http://lb.example:9876"
    # Discovery from the unversioned root works too.
    generic = generic_password.Password(auth_url=server, username="admin", password=ADMIN_PASSWORD,
                       project_name="admin", user_domain_id="default",
                       project_domain_id="default")
    assert ks_session.Session(auth=generic).get_token()


def test_remote_validator_and_openstacksdk(server: str) -> None:
    """How every other service checks tokens (common.auth), and openstacksdk."""
    _register_endpoint(server)
    service = ServiceSession(AuthConfig(auth_url=f"{server}/v3", username="admin",
                                        password=ADMIN_PASSWORD, project_name="admin"))
    service_session = ServiceSession(AuthConfig(auth_url=f"{server}/v3", username="admin",
                                                password=ADMIN_PASSWORD,
                                                project_name="admin"))
    assert service_session.endpoint("load-balancer", "RegionOne") == "http://lb.example:9876"
    validator = RemoteTokenValidator(service, cache_time=0)
    user_token = service_session.token()
    ctx = validator.validate(user_token)
    assert ctx.user_name == "admin" and ctx.project_name == "admin" and ctx.is_admin
    with pytest.raises(Unauthorized):
        validator.validate("not-a-token")
    conn = openstack.connect(auth_url=f"{server}/v3", username="admin",
                             password=ADMIN_PASSWORD, project_name="admin",
                             user_domain_name="Default", project_domain_name="Default",
                             region_name="RegionOne", load_yaml_config=False,
                             load_envvars=False)
    try:
        assert {p.name for p in conn.identity.projects()} == {"admin", "service", "demo"}
        assert conn.identity.find_region("RegionOne") is not None
    finally:
        conn.close()
    service.client.close()
    service_session.client.close()


def _openstack(server: str, *args: str, output: bool = True) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update({
        "OS_AUTH_URL": f"{server}/v3", "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "admin", "OS_PASSWORD": ADMIN_PASSWORD, "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne", "OS_CLIENT_CONFIG_FILE": "/dev/null",
    })
    command = [str(OPENSTACK), *args, *(["-f", "json"] if output else [])]
    result = subprocess.run(command, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(not OPENSTACK.exists(), reason="python-openstackclient not installed")
def test_openstack_cli(server: str) -> None:
    _register_endpoint(server)
    issued = json.loads(_openstack(server, "token", "issue"))
    assert issued["id"] and issued["project_id"] and issued["user_id"]
    projects = json.loads(_openstack(server, "project", "list"))
    assert {p["Name"] for p in projects} == {"admin", "service", "demo"}
    created = json.loads(_openstack(server, "user", "create", "--password", "pw", "demo"))
    assert created["name"] == "demo"
    _openstack(server, "role", "add", "--project", "demo", "--user", "demo", "member",
               output=False)
    listed = json.loads(_openstack(server, "role", "assignment", "list", "--user", "demo",
                                   "--project", "demo", "--names"))
    assert [(a["Role"], a["User"], a["Project"]) for a in listed] == [
        ("member", "demo@Default", "demo@Default")]
