"""Test helpers: central and two regions in-process: real apps, real SQLite, HTTP between them.

Each service is its real FastAPI application on its own SQLite file. Calls
between services go through one httpx transport that routes by host name to
the right application, so the regions really call central's API and central's
jobs really call the regions' APIs. Identity is the only stand-in: a fixed
table of tokens (the token service is tested on its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Unauthorized
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.networking.app import create_app

TOKENS = {
    "admin-token": Context("admin-user", "admin-project", frozenset({"admin", "member",
                                                                      "reader"}),
                           "admin-token"),
    "demo-token": Context("demo-user", "demo-project", frozenset({"member", "reader"}),
                          "demo-token"),
    "alt-token": Context("alt-user", "alt-project", frozenset({"member", "reader"}),
                         "alt-token"),
    "reader-token": Context("reader-user", "demo-project", frozenset({"reader"}),
                            "reader-token"),
}
HOSTS = {"CentralRegion": "central.test", "RegionOne": "r1.test", "RegionTwo": "r2.test"}


class FixedTokens:
    def validate(self, token: str) -> Context:
        if token not in TOKENS:
            raise Unauthorized("The request you have made requires authentication.")
        return TOKENS[token]


class HostRouter(httpx.BaseTransport):
    def __init__(self) -> None:
        self.clients: dict[str, TestClient] = {}
        self.down: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down or host not in self.clients:
            raise httpx.ConnectError(f"{host} is down", request=request)
        return self.clients[host]._transport.handle_request(request)


class FakeServiceSession(ServiceSession):
    """The service's own session, with the service's token fixed to admin."""

    def __init__(self, router: HostRouter) -> None:
        self.client = httpx.Client(transport=router, base_url="http://central.test")
        self.auth = None  # type: ignore[assignment]

    def token(self) -> str:
        return "admin-token"

    def invalidate(self) -> None:
        pass

    def endpoint(self, service_type: str, region: str) -> str:
        return f"http://{HOSTS[region]}"


def write_config(path: Path, role: str, region: str, az: str = "",
                 database_url: str | None = None) -> Path:
    url = database_url or f"sqlite:///{path.with_suffix('.db')}"
    path.write_text(f"""
[DEFAULT]
database_url = {url}
[keystone_authtoken]
auth_url = http://identity.test/v3
username = svc
password = x
[networking]
role = {role}
region_name = {region}
availability_zone = {az}
vni_ranges = 1001:1003
network_vlan_ranges = physnet1:100:101
[jobs]
poll_interval = 0.05
backoff_base = 0.05
backoff_max = 0.2
max_attempts = 50
""")
    return path


@dataclass
class Cloud:
    router: HostRouter
    apps: dict[str, FastAPI] = field(default_factory=dict)

    def client(self, region: str, token: str = "admin-token") -> httpx.Client:
        return httpx.Client(transport=self.router, base_url=f"http://{HOSTS[region]}",
                            headers={"X-Auth-Token": token})

    def run_jobs(self) -> int:
        """Run every due job of central now; returns how many ran."""
        worker = self.apps["CentralRegion"].state.workers[0]
        count = 0
        while worker.run_once():
            count += 1
        return count




def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def error(resp: httpx.Response, status: int) -> dict[str, str]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"NeutronError"}, body
    result: dict[str, str] = body["NeutronError"]
    return result


def build_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                central_database_url: str | None = None) -> Iterator[Cloud]:
    """Central and two regions in-process; central on ``central_database_url`` if given."""
    router = HostRouter()
    session = FakeServiceSession(router)
    monkeypatch.setattr("tricircle_lb.networking.app.ServiceSession",
                        lambda auth: session)
    monkeypatch.setattr("tricircle_lb.networking.app.RemoteTokenValidator",
                        lambda s, t: FixedTokens())
    monkeypatch.setattr("tricircle_lb.networking.app.START_WORKERS", False)
    cloud = Cloud(router)
    specs = [("central", "CentralRegion", ""), ("local", "RegionOne", "az1"),
             ("local", "RegionTwo", "az2")]
    entered = []
    try:
        for role, region, az in specs:
            url = central_database_url if role == "central" else None
            app = create_app(write_config(tmp_path / f"{region}.ini", role, region, az, url))
            client = TestClient(app, base_url=f"http://{HOSTS[region]}",
                                raise_server_exceptions=False)
            client.__enter__()
            entered.append(client)
            router.clients[HOSTS[region]] = client
            cloud.apps[region] = app
        admin = cloud.client("CentralRegion")
        admin.post("/v1.0/pods", json={"pod": {"region_name": "CentralRegion"}})
        for _, region, az in specs[1:]:
            admin.post("/v1.0/pods", json={"pod": {"region_name": region, "az_name": az}})
        yield cloud
    finally:
        for client in entered:
            client.__exit__(None, None, None)
