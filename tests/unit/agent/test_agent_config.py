"""``[agent]`` options and the HTTP client's request shapes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tricircle_lb.agent.api import HttpRegionApi
from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.common.config import AuthConfig, ConfigError, read
from tricircle_lb.common.http import ServiceSession

INI = """
[DEFAULT]
log_level = debug
[keystone_authtoken]
auth_url = http://id/v3
username = tricircle
password = pw
[agent]
host = RegionOne-host1
region_name = RegionOne
tunnel_ip = 198.18.0.1
physical_interface_mappings = physnet1:pn0, physnet2:pn1
state_dir = /tmp/x
poll_interval = 0.5
metrics_port = 9150
host_namespace = tcl-h-RegionOne-host1
"""


def test_config(tmp_path: Path) -> None:
    path = tmp_path / "agent.ini"
    path.write_text(INI)
    config = AgentConfig.from_parser(read(path))
    assert config.physical_interface_mappings == {"physnet1": "pn0", "physnet2": "pn1"}
    assert (config.poll_interval, config.report_interval, config.metrics_port) == (
        0.5, 10.0, 9150)
    assert config.underlay_device == "ul0" and config.host_namespace == "tcl-h-RegionOne-host1"
    path.write_text(INI.replace("198.18.0.1", "nope"))
    with pytest.raises(ConfigError):
        AgentConfig.from_parser(read(path))
    path.write_text(INI.replace("physnet1:pn0", "physnet1"))
    with pytest.raises(ConfigError):
        AgentConfig.from_parser(read(path))


def _session(handler: httpx.MockTransport) -> ServiceSession:
    session = ServiceSession(AuthConfig("http://id/v3", "svc", "pw"),
                             client=httpx.Client(transport=handler))
    return session


def test_http_api_calls(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    catalog = [{"type": "network", "endpoints": [
        {"region_id": "RegionOne", "interface": "public", "url": "http://net1"}]}]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/tokens":
            return httpx.Response(201, headers={"X-Subject-Token": "tok"}, json={"token": {
                "expires_at": "2999-01-01T00:00:00Z", "catalog": catalog}})
        seen.append(request)
        if request.method == "GET":
            collection = request.url.path.rsplit("/", 1)[-1]
            return httpx.Response(200, json={collection: []})
        return httpx.Response(200, json={})

    api = HttpRegionApi(_session(httpx.MockTransport(handle)), "RegionOne")
    api.ports_on_host("RegionOne-host1")
    api.ports_of_networks([f"n{i}" for i in range(150)])
    assert api.servers_on_host("RegionOne-host1") is None  # no compute in the catalog
    api.report_agent("RegionOne-host1", {"agent_type": "Linux bridge agent"})
    api.set_port_status("p1", "ACTIVE")
    urls = [(r.method, r.url.path, r.url.params.multi_items()[:1]) for r in seen]
    assert urls[0] == ("GET", "/v2.0/ports", [("binding:host_id", "RegionOne-host1")])
    assert [u[1] for u in urls[1:3]] == ["/v2.0/ports", "/v2.0/ports"]  # 150 ids in 2 chunks
    assert len(seen[1].url.params.get_list("network_id")) == 100
    assert urls[3][:2] == ("PUT", "/v1.0/agents/RegionOne-host1")
    assert json.loads(seen[3].content) == {"agent": {"agent_type": "Linux bridge agent"}}
    assert urls[4][:2] == ("PUT", "/v1.0/ports/p1/status")
    assert all(r.headers["X-Auth-Token"] == "tok" for r in seen)


def test_process_stops_on_sigterm_and_leaves_the_data_plane(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    ini = tmp_path / "agent.ini"
    ini.write_text(INI.replace("http://id/v3", "http://127.0.0.1:9/v3")
                   .replace("/tmp/x", str(tmp_path / "state"))
                   .replace("metrics_port = 9150", "metrics_port = -1")
                   .replace("tcl-h-RegionOne-host1", "tcl-tnot-there")
                   .replace("log_level = debug", f"log_file = {tmp_path / 'agent.log'}"))
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from pathlib import Path; "
                             "from tricircle_lb.agent.main import run; "
                             f"sys.exit(run(Path({str(ini)!r})))"])
    try:
        deadline = time.monotonic() + 10
        log = tmp_path / "agent.log"
        while time.monotonic() < deadline and "region not readable" not in (
                log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert "region not readable" in text and "data plane left in place" in text
