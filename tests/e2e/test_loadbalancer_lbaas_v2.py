"""The spec's literal path: tenant → RegionOne's networking (Neutron's LBaaS v2 extension)
→ RegionOne's load-balancer service → central networking, driven by openstacksdk's
*network* proxy, unchanged. The Fig. 2 scenario once more, with real traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from lb_support import BACKENDS, NET1, NET2, counts, requests

from tests_support import Cloud

pytestmark = [pytest.mark.cloud, pytest.mark.root]

# Runs with the environment of `eval "$(tricircle-lb openrc --region RegionOne)"`.
SDK_SCRIPT = r"""
import json, sys, time
import openstack

args = json.loads(sys.argv[1])
net = openstack.connect().network


def settle(lb_id):
    for _ in range(600):
        lb = net.get_load_balancer(lb_id)
        if lb.provisioning_status == "ACTIVE":
            return lb
        if lb.provisioning_status == "ERROR":
            raise SystemExit(f"load balancer {lb_id} went to ERROR")
        time.sleep(0.2)
    raise SystemExit(f"load balancer {lb_id} not ACTIVE in time")


lb = net.create_load_balancer(name="lb-sdk", vip_subnet_id=args["subnet1"])
lb = settle(lb.id)
listener = net.create_listener(name="sdk-listener", load_balancer_id=lb.id, protocol="HTTP",
                               protocol_port=80)
settle(lb.id)
pool = net.create_pool(name="sdk-pool", listener_id=listener.id, protocol="HTTP",
                       lb_algorithm="ROUND_ROBIN")
settle(lb.id)
for name, (address, subnet) in sorted(args["members"].items()):
    net.create_pool_member(pool, name=name, address=address, protocol_port=80,
                           subnet_id=subnet)
    settle(lb.id)
error = None
try:
    net.create_pool_member(pool, address="10.0.31.9", protocol_port=80,
                           subnet_id=args["local_subnet"])
except openstack.exceptions.HttpException as exc:
    error = {"status": exc.status_code, "message": str(exc)}
members = sorted(m.name for m in net.pool_members(pool))
print(json.dumps({"id": lb.id, "vip": lb.vip_address, "error": error, "members": members}))
"""


@pytest.fixture(scope="module")
def sdk_lb(cloud: Cloud, spec: dict[str, Any]) -> dict[str, Any]:
    cloud.openstack("network", "create", "--provider-network-type", "local", "sdk-local2",
                    region="RegionTwo")
    local = cloud.openstack("subnet", "create", "--network", "sdk-local2", "--subnet-range",
                            "10.0.31.0/24", "sdk-local2-subnet", region="RegionTwo")
    members = {name: (spec["ips"][name],
                      spec["subnet2"]["id"] if net == NET2 else spec["subnet1"]["id"])
               for name, (_region, net, _host) in BACKENDS.items()}
    args = {"subnet1": spec["subnet1"]["id"], "members": members, "local_subnet": local["id"]}
    result = subprocess.run([sys.executable, "-c", SDK_SCRIPT, json.dumps(args)],
                            capture_output=True, text=True, env=cloud.env(region="RegionOne"),
                            timeout=600, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stderr
    made: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return made


def test_fig2_through_the_lbaas_v2_extension(cloud: Cloud, sdk_lb: dict[str, Any]) -> None:
    assert sdk_lb["members"] == sorted(BACKENDS)
    answers = requests(cloud, NET1, f"http://{sdk_lb['vip']}/", 8)
    assert counts(answers) == {b: 2 for b in BACKENDS}, answers
    # The same load balancer, as the Octavia API of RegionOne shows it.
    shown = cloud.openstack("loadbalancer", "show", "lb-sdk")
    assert shown["id"] == sdk_lb["id"]
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "ONLINE")


def test_local_network_error_through_the_lbaas_v2_extension(sdk_lb: dict[str, Any]) -> None:
    error = sdk_lb["error"]
    assert error is not None and error["status"] == 400, error
    assert "network not located in current region" in error["message"]


def test_lbaas_v2_is_listed_by_the_region_only(cloud: Cloud) -> None:
    aliases = {e["Alias"] for e in cloud.openstack("extension", "list", "--network",
                                                    region="RegionOne")}
    assert "lbaasv2" in aliases
    central = {e["Alias"] for e in cloud.openstack("extension", "list", "--network",
                                                    region="CentralRegion")}
    assert "lbaasv2" not in central


def test_cleanup_sdk_lb(cloud: Cloud, sdk_lb: dict[str, Any]) -> None:
    result = cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-sdk")
    assert result.returncode == 0, result.stderr
