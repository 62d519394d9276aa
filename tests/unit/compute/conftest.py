"""Fixtures of the compute tests (helpers in compute_testing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compute_testing import COMPUTE_HOST, ComputeCloud, write_compute_config
from fastapi.testclient import TestClient
from networking_testing import (
    HOSTS,
    Cloud,
    FakeServiceSession,
    FixedTokens,
    HostRouter,
    write_config,
)

from tricircle_lb.compute.app import create_app as create_compute_app
from tricircle_lb.networking.app import create_app as create_networking_app


@pytest.fixture
def compute_config(tmp_path: Path) -> Path:
    return write_compute_config(tmp_path / "compute.ini")


@pytest.fixture
def cc(tmp_path: Path, compute_config: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[ComputeCloud]:
    router = HostRouter()
    session = FakeServiceSession(router)
    for module in ("networking", "compute"):
        monkeypatch.setattr(f"tricircle_lb.{module}.app.ServiceSession", lambda auth: session)
        monkeypatch.setattr(f"tricircle_lb.{module}.app.RemoteTokenValidator",
                            lambda s, t: FixedTokens())
    monkeypatch.setattr("tricircle_lb.networking.app.START_WORKERS", False)
    monkeypatch.setattr("tricircle_lb.compute.app.START_SWEEPER", False)
    net = Cloud(router)
    entered: list[TestClient] = []
    try:
        for role, region, az in (("central", "CentralRegion", ""), ("local", "RegionOne", "az1"),
                                 ("local", "RegionTwo", "az2")):
            app = create_networking_app(write_config(tmp_path / f"{region}.ini", role, region,
                                                     az))
            client = TestClient(app, base_url=f"http://{HOSTS[region]}",
                                raise_server_exceptions=False)
            client.__enter__()
            entered.append(client)
            router.clients[HOSTS[region]] = client
            net.apps[region] = app
        admin = net.client("CentralRegion")
        admin.post("/v1.0/pods", json={"pod": {"region_name": "CentralRegion"}})
        for region, az in (("RegionOne", "az1"), ("RegionTwo", "az2")):
            admin.post("/v1.0/pods", json={"pod": {"region_name": region, "az_name": az}})
        compute = create_compute_app(compute_config)
        client = TestClient(compute, base_url=f"http://{COMPUTE_HOST}",
                            raise_server_exceptions=False)
        client.__enter__()
        entered.append(client)
        router.clients[COMPUTE_HOST] = client
        yield ComputeCloud(net, compute)
    finally:
        for client in entered:
            client.__exit__(None, None, None)
