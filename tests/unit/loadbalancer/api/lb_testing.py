"""Test helpers: the load-balancer service of RegionOne and RegionTwo beside the
in-process networking cloud (central + RegionOne + RegionTwo) of
``tests/unit/networking/networking_testing.py``.

Every service is its real FastAPI application on its own SQLite file; one
httpx transport routes by host name, and the services' session finds
endpoints by (service type, region), so the load-balancer service really
calls central and regional networking, and networking (the LBaaS v2 proxy)
really calls the load-balancer service. The controller's workers are off:
tests see what the API wrote and handed off, and may run the controller by
hand through ``cloud.lb_apps[region].state``.

``build_lb_cloud`` makes that cloud; a test package's fixture takes it with
``yield from build_lb_cloud(tmp_path, monkeypatch)`` (the directory of
``networking_testing.py``, tests/unit/networking, on ``sys.path`` first).
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
from networking_testing import (
    HOSTS,
    Cloud,
    FakeServiceSession,
    FixedTokens,
    HostRouter,
    ok,
    write_config,
)
from sqlalchemy import select

from tricircle_lb.db import Database
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.app import create_app as create_lb_app
from tricircle_lb.networking.app import create_app as create_networking_app

LB_HOSTS = {"RegionOne": "lb-r1.test", "RegionTwo": "lb-r2.test"}
LB_AZ = {"RegionOne": "az1", "RegionTwo": "az2"}
Body = dict[str, Any]


class RoutingServiceSession(FakeServiceSession):
    """The services' own session: endpoints by service type and region."""

    def endpoint(self, service_type: str, region: str) -> str:
        if service_type == "load-balancer":
            return f"http://{LB_HOSTS[region]}"
        return f"http://{HOSTS[region]}"


def write_lb_config(path: Path, region: str) -> Path:
    path.write_text(f"""
[DEFAULT]
database_url = sqlite:///{path.with_suffix('.db')}
[keystone_authtoken]
auth_url = http://identity.test/v3
username = svc
password = x
[loadbalancer]
region_name = {region}
availability_zone = {LB_AZ[region]}
reserved_member_cidrs = 192.168.10.0/24, 192.168.20.0/24
[health_manager]
heartbeat_key = test-heartbeat-key
[jobs]
poll_interval = 0.05
backoff_base = 0.05
backoff_max = 0.2
max_attempts = 5
""")
    return path


@dataclass
class LbCloud(Cloud):
    """The networking cloud plus a load-balancer service per region."""

    lb_apps: dict[str, FastAPI] = field(default_factory=dict)

    def lb(self, region: str = "RegionOne", token: str = "admin-token") -> httpx.Client:
        """A client of ``region``'s Octavia API as the holder of ``token``."""
        return httpx.Client(transport=self.router, base_url=f"http://{LB_HOSTS[region]}",
                            headers={"X-Auth-Token": token})

    def network(self, name: str = "net1", token: str = "admin-token", **attrs: Any) -> Body:
        """A network made at central."""
        central = self.client("CentralRegion", token)
        result: Body = ok(central.post("/v2.0/networks", json={
            "network": {"name": name, **attrs}}), 201)["network"]
        return result

    def subnet(self, network_id: str, cidr: str, token: str = "admin-token",
               **attrs: Any) -> Body:
        """A subnet made at central."""
        central = self.client("CentralRegion", token)
        result: Body = ok(central.post("/v2.0/subnets", json={"subnet": {
            "network_id": network_id, "cidr": cidr, "ip_version": 6 if ":" in cidr else 4,
            **attrs}}), 201)["subnet"]
        return result

    def jobs(self, region: str = "RegionOne") -> list[tuple[str, str | None]]:
        """(type, resource id) of the controller jobs the API handed off, oldest first."""
        with self.lb_apps[region].state.db.read() as session:
            rows = session.scalars(select(models.Job).order_by(models.Job.created_at)).all()
            return [(row.type, row.resource_id) for row in rows]

    def settle(self, lb_id: str, region: str = "RegionOne") -> None:
        """What the controller does when it has applied everything: every pending
        object of the load balancer ACTIVE (ONLINE), PENDING_DELETE rows gone."""
        active = models.ProvisioningStatus.ACTIVE.value
        with self.lb_apps[region].state.db.write() as session:
            lb = session.get(models.LoadBalancer, lb_id)
            assert lb is not None
            for obj in _tree(lb):
                if obj.provisioning_status == models.ProvisioningStatus.PENDING_DELETE:
                    session.delete(obj)
                elif obj.provisioning_status != active:
                    obj.provisioning_status = active
                    if obj.operating_status == models.OperatingStatus.OFFLINE:
                        obj.operating_status = models.OperatingStatus.ONLINE.value

    def lb_db(self, region: str = "RegionOne") -> Database:
        """The load-balancer database of ``region``."""
        db: Database = self.lb_apps[region].state.db
        return db


def _tree(lb: models.LoadBalancer) -> list[Any]:
    """The load balancer and every object under it, children before parents."""
    found: list[Any] = []
    for listener in lb.listeners:
        for policy in listener.l7policies:
            found += [*policy.rules, policy]
        found.append(listener)
    for pool in lb.pools:
        found += [*pool.members, *([pool.healthmonitor] if pool.healthmonitor else []), pool]
    return [*found, lb]


def fault(resp: httpx.Response, status: int) -> str:
    """Assert an Octavia fault with ``status``; its faultstring."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == ("Server" if status >= 500 else "Client"), body
    text: str = body["faultstring"]
    return text


def build_lb_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LbCloud]:
    """Central, RegionOne and RegionTwo networking and both regions' load-balancer
    services, in-process with workers off; every application stopped afterwards."""
    router = HostRouter()
    session = RoutingServiceSession(router)
    for module in ("networking", "loadbalancer"):
        monkeypatch.setattr(f"tricircle_lb.{module}.app.ServiceSession", lambda auth: session)
        monkeypatch.setattr(f"tricircle_lb.{module}.app.RemoteTokenValidator",
                            lambda s, t: FixedTokens())
        monkeypatch.setattr(f"tricircle_lb.{module}.app.START_WORKERS", False)
    cloud = LbCloud(router)
    entered: list[TestClient] = []

    def serve(app: FastAPI, host: str) -> None:
        client = TestClient(app, base_url=f"http://{host}", raise_server_exceptions=False)
        client.__enter__()
        entered.append(client)
        router.clients[host] = client

    try:
        for role, region, az in [("central", "CentralRegion", ""), ("local", "RegionOne", "az1"),
                                 ("local", "RegionTwo", "az2")]:
            app = create_networking_app(write_config(tmp_path / f"{region}.ini", role, region,
                                                     az))
            serve(app, HOSTS[region])
            cloud.apps[region] = app
        admin = cloud.client("CentralRegion")
        admin.post("/v1.0/pods", json={"pod": {"region_name": "CentralRegion"}})
        for region, az in (("RegionOne", "az1"), ("RegionTwo", "az2")):
            admin.post("/v1.0/pods", json={"pod": {"region_name": region, "az_name": az}})
        for region, host in LB_HOSTS.items():
            app = create_lb_app(write_lb_config(tmp_path / f"lb-{region}.ini", region))
            serve(app, host)
            cloud.lb_apps[region] = app
        yield cloud
    finally:
        for client in entered:
            client.__exit__(None, None, None)
