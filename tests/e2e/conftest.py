"""Fixtures of the load-balancing acceptance tests (one lb1 for the whole session)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lb_support import (
    BACKENDS,
    NET1,
    NET2,
    WEB_SERVER,
    boot,
    lbs_active,
    listener,
    member,
    pool,
    server_ip,
    servers_active,
)

from tests_support import Cloud


@pytest.fixture(scope="session")
def spec(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The spec's networks, four backends and lb1 on subnet1 in RegionOne."""
    user_data = tmp_path_factory.mktemp("lb") / "web.sh"
    user_data.write_text(WEB_SERVER)
    central = "CentralRegion"
    cloud.openstack("network", "create", NET1, region=central)
    subnet1 = cloud.openstack("subnet", "create", "--network", NET1, "--subnet-range",
                              "10.0.10.0/24", "lb-subnet1", region=central)
    # net2 lives in RegionTwo (created through RegionTwo's own API).
    cloud.openstack("network", "create", NET2, region="RegionTwo")
    subnet2 = cloud.openstack("subnet", "create", "--network", NET2, "--subnet-range",
                              "10.0.20.0/24", "lb-subnet2", region="RegionTwo")
    # Everything requested first, then waited for together: the boots and the amphora's
    # overlap.
    booted = {str(boot(cloud, name, net, region, host, user_data, wait=False)["id"]): region
              for name, (region, net, host) in BACKENDS.items()}
    made = cloud.openstack("loadbalancer", "create", "--name", "lb-e2e", "--vip-subnet-id",
                           subnet1["id"])
    servers_active(cloud, booted)
    ips = {name: server_ip(cloud, name, region)
           for name, (region, _net, _host) in BACKENDS.items()}
    lb = lbs_active(cloud, [str(made["id"])])[str(made["id"])]
    assert lb["provisioning_status"] == "ACTIVE"
    yield {"lb": lb, "subnet1": subnet1, "subnet2": subnet2, "ips": ips,
           "user_data": user_data}
    cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-e2e")


@pytest.fixture(scope="session")
def http_pool(cloud: Cloud, spec: dict[str, Any]) -> dict[str, Any]:
    """listener1 (HTTP 80) with pool1 (ROUND_ROBIN) holding the four backends."""
    listener(cloud, "listener1", "HTTP", 80)
    made = pool(cloud, "pool1", "listener1", "HTTP", "ROUND_ROBIN")
    for backend in BACKENDS:
        member(cloud, "pool1", spec, backend)
    return made
