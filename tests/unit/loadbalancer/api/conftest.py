"""Fixtures of the load-balancer API tests (helpers in lb_testing.py).

``lb_cloud``: central + RegionOne + RegionTwo networking and the
load-balancer service of both regions, in-process (see lb_testing.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

# The networking harness this one builds on (tests/unit/networking).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "networking"))

from lb_testing import LB_HOSTS, LbCloud, RoutingServiceSession, write_lb_config
from networking_testing import HOSTS, FixedTokens, HostRouter, write_config

from tricircle_lb.loadbalancer.app import create_app as create_lb_app
from tricircle_lb.networking.app import create_app as create_networking_app


@pytest.fixture
def lb_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LbCloud]:
    router = HostRouter()
    session = RoutingServiceSession(router)
    for module in ("networking", "loadbalancer"):
        monkeypatch.setattr(f"tricircle_lb.{module}.app.ServiceSession", lambda auth: session)
        monkeypatch.setattr(f"tricircle_lb.{module}.app.RemoteTokenValidator",
                            lambda s, t: FixedTokens())
        monkeypatch.setattr(f"tricircle_lb.{module}.app.START_WORKERS", False)
    cloud = LbCloud(router)
    entered: list[TestClient] = []

    def serve(app: object, host: str) -> None:
        client = TestClient(app, base_url=f"http://{host}",  # type: ignore[arg-type]
                            raise_server_exceptions=False)
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
