"""Issue 2's acceptance, driven by the real clients against the embedded deployment.

The `openstack` CLI and openstacksdk talk to identity, central networking and
the two regions exactly as they would talk to OpenStack.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exceptions

from tests_support import Cloud, wait_for

pytestmark = pytest.mark.cloud

NOT_LOCATED = "network not located in current region"


def sdk(cloud: Cloud, region: str, project: str = "admin") -> openstack.connection.Connection:
    env = cloud.env(project, region)
    return openstack.connect(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
        password=env["OS_PASSWORD"], project_name=env["OS_PROJECT_NAME"],
        user_domain_name="Default", project_domain_name="Default", region_name=region)


def test_cli_walkthrough_mirrors_with_same_ids(cloud: Cloud) -> None:
    central = "CentralRegion"
    net = cloud.openstack("network", "create", "net1", region=central)
    assert net["provider:network_type"] == "vxlan"
    subnet = cloud.openstack("subnet", "create", "--subnet-range", "10.0.10.0/24",
                             "--gateway", "none", "--network", "net1", "subnet1",
                             region=central)
    assert subnet["gateway_ip"] is None
    sg = cloud.openstack("security", "group", "create", "web", region=central)
    rule = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp",
                           "--dst-port", "80", "web", region=central)
    assert rule["port_range_min"] == 80 and rule["security_group_id"] == sg["id"]
    port = cloud.openstack("port", "create", "--device-owner", "compute:nova",
                           "--network", "net1", "--security-group", "web", "port1",
                           region=central)
    assert port["fixed_ips"][0]["ip_address"] == "10.0.10.1"

    mirrored = cloud.openstack("port", "show", port["id"], region="RegionOne")
    assert mirrored["id"] == port["id"]
    assert mirrored["mac_address"] == port["mac_address"]
    assert mirrored["fixed_ips"] == port["fixed_ips"]
    for region in ("RegionOne", "RegionTwo"):
        shown = cloud.openstack("network", "show", "net1", region=region)
        assert shown["id"] == net["id"]
        assert shown["provider:segmentation_id"] == net["provider:segmentation_id"]
    assert cloud.openstack("security", "group", "show", sg["id"], region="RegionOne")

    cloud.openstack_raw("port", "set", "--host", "RegionOne-host1", port["id"],
                        region="RegionOne").check_returncode()
    assert cloud.openstack("port", "show", port["id"],
                           region=central)["binding_host_id"] == "RegionOne-host1"

    routings = cloud.admin_get(central, f"/v1.0/routings?top_id={net['id']}")["routings"]
    assert len(routings) == 2

    services = {s["Type"] for s in cloud.openstack("catalog", "list")}
    assert {"identity", "network"} <= services
    regions = {r["Region"] for r in cloud.openstack("region", "list")}
    assert {"CentralRegion", "RegionOne", "RegionTwo"} <= regions
    token = cloud.openstack("token", "issue")
    assert token["id"] and token["project_id"]


def test_local_network_of_other_region_through_cli_and_sdk(cloud: Cloud) -> None:
    net = cloud.openstack("network", "create", "--provider-network-type", "local",
                          "--availability-zone-hint", "RegionTwo", "r2-local",
                          region="CentralRegion")
    cloud.openstack("subnet", "create", "--subnet-range", "10.0.40.0/24", "--network",
                    "r2-local", "r2-local-subnet", region="CentralRegion")
    result = cloud.openstack_raw("network", "show", net["id"], region="RegionOne")
    assert result.returncode != 0 and NOT_LOCATED in result.stderr
    result = cloud.openstack_raw("port", "create", "--network", net["id"], "refused",
                                 region="RegionOne")
    assert result.returncode != 0 and NOT_LOCATED in result.stderr
    # Nothing was created at central by the refused port.
    assert cloud.openstack("port", "list", "--network", net["id"],
                           region="CentralRegion") == []

    conn = sdk(cloud, "RegionOne")
    with pytest.raises(sdk_exceptions.BadRequestException, match=NOT_LOCATED):
        conn.network.get_network(net["id"])
    with pytest.raises(sdk_exceptions.BadRequestException, match=NOT_LOCATED):
        conn.network.find_subnet("r2-local-subnet")
    assert sdk(cloud, "RegionTwo").network.get_network(net["id"]).id == net["id"]


def test_demo_project_cannot_see_or_attach_to_admin_networks(cloud: Cloud) -> None:
    net = cloud.openstack("network", "create", "admin-private", region="CentralRegion")
    cloud.openstack("subnet", "create", "--subnet-range", "10.0.50.0/24", "--network",
                    net["id"], "admin-private-subnet", region="CentralRegion")
    admin_port = cloud.openstack("port", "create", "--network", net["id"], "admin-port",
                                 region="CentralRegion")
    for region in ("CentralRegion", "RegionOne"):
        listed = cloud.openstack("network", "list", project="demo", region=region)
        assert net["id"] not in {n["ID"] for n in listed}
        shown = cloud.openstack_raw("network", "show", net["id"], project="demo",
                                    region=region)
        assert shown.returncode != 0
        port = cloud.openstack_raw("port", "create", "--network", net["id"], "sneaky",
                                   project="demo", region=region)
        assert port.returncode != 0
        seen = cloud.openstack_raw("port", "show", admin_port["id"], project="demo",
                                   region=region)
        assert seen.returncode != 0
    # The demo project works in its own network.
    own = cloud.openstack("network", "create", "demo-net", project="demo",
                          region="RegionOne")
    assert own["project_id"] != net["project_id"]


@pytest.mark.slow
def test_pending_job_completes_after_central_is_killed(cloud: Cloud) -> None:
    """kill -9 of central while a mirror deletion is pending: it completes, once."""
    net = cloud.openstack("network", "create", "doomed", region="CentralRegion")
    cloud.openstack("network", "show", net["id"], region="RegionTwo")  # mirror it
    region_two = cloud.pid("region-RegionTwo")
    central_pid = cloud.pid("central")
    os.kill(region_two, signal.SIGSTOP)  # RegionTwo hangs: the job cannot finish
    try:
        cloud.openstack_raw("network", "delete", net["id"],
                            region="CentralRegion").check_returncode()

        def running() -> dict[str, Any] | None:
            jobs = cloud.admin_get("CentralRegion", "/v1.0/jobs")["jobs"]
            mine = [j for j in jobs if j["resource"]["resource_id"] == net["id"]]
            return mine[0] if mine and mine[0]["status"] == "RUNNING" else None

        wait_for(running, timeout=30)
        os.kill(central_pid, signal.SIGKILL)
    finally:
        os.kill(region_two, signal.SIGCONT)
    wait_for(lambda: cloud.pid("central") not in (None, central_pid), timeout=30)

    def finished() -> list[dict[str, Any]] | None:
        try:
            jobs = cloud.admin_get("CentralRegion", "/v1.0/jobs")["jobs"]
        except Exception:
            return None
        mine = [j for j in jobs if j["resource"]["resource_id"] == net["id"]]
        return mine if mine and mine[0]["status"] == "SUCCESS" else None

    jobs = wait_for(finished, timeout=90, interval=1)
    assert len(jobs) == 1, json.dumps(jobs)  # nothing duplicated
    assert jobs[0]["attempts"] >= 2  # the run cut short by the kill, then the one that won
    gone = cloud.openstack_raw("network", "show", net["id"], region="RegionTwo")
    assert gone.returncode != 0
    assert cloud.admin_get("CentralRegion",
                           f"/v1.0/routings?top_id={net['id']}")["routings"] == []
