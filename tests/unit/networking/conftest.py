"""Fixtures of the networking tests (helpers in networking_testing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from networking_testing import (
    HOSTS,
    Cloud,
    FakeServiceSession,
    FixedTokens,
    HostRouter,
    write_config,
)

from tricircle_lb.networking.app import create_app


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    yield from build_cloud(tmp_path, monkeypatch)


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

