"""Central networking on a real PostgreSQL: the same code, a URL in the configuration.

Runs when ``TRICIRCLE_LB_TEST_POSTGRES_URL`` names a database this test may
fill and empty (``./scripts/test`` starts PostgreSQL from apt and sets it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from networking_testing import Cloud, build_cloud, error, ok

URL = os.environ.get("TRICIRCLE_LB_TEST_POSTGRES_URL", "")
pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not URL, reason="TRICIRCLE_LB_TEST_POSTGRES_URL is not set")]


@pytest.fixture
def pg_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """The cloud with central's database a fresh PostgreSQL database, dropped after."""
    base = sa.make_url(URL)
    name = f"tricircle_net_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        yield from build_cloud(tmp_path, monkeypatch, central_database_url=url)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_central_on_postgresql(pg_cloud: Cloud) -> None:
    central = pg_cloud.client("CentralRegion")
    net = ok(central.post("/v2.0/networks", json={"network": {"name": "pg-net"}}), 201)
    net_id = net["network"]["id"]
    assert net["network"]["provider:segmentation_id"] == 1001
    ok(central.post("/v2.0/subnets", json={"subnet": {
        "network_id": net_id, "cidr": "10.0.10.0/29", "gateway_ip": None}}), 201)
    # IPAM on PostgreSQL: addresses in order, then a clean 409 when the pool is spent.
    ips = [ok(central.post("/v2.0/ports", json={"port": {"network_id": net_id}}), 201)
           ["port"]["fixed_ips"][0]["ip_address"] for _ in range(6)]
    assert ips == [f"10.0.10.{i}" for i in range(1, 7)]
    err = error(central.post("/v2.0/ports", json={"port": {"network_id": net_id}}), 409)
    assert err["type"] == "IpAddressGenerationFailure"
    # Mirroring, routing and the durable jobs run on PostgreSQL too.
    ok(pg_cloud.client("RegionOne").get(f"/v2.0/networks/{net_id}"))
    ok(central.put(f"/v2.0/networks/{net_id}", json={"network": {"name": "renamed"}}))
    assert pg_cloud.run_jobs() == 1
    mirror = ok(pg_cloud.client("RegionOne").get(f"/v2.0/networks/{net_id}"))
    assert mirror["network"]["name"] == "renamed"
    jobs = ok(central.get("/v1.0/jobs"))["jobs"]
    assert [j["status"] for j in jobs] == ["SUCCESS"]
