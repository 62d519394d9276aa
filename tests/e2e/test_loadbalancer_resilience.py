"""Durable flows and the health manager, for real: ``kill -9`` of the load-balancer service
in the middle of ``loadbalancer create`` and ``member create``, and an amphora that dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lb_support import (
    NET1,
    NET2,
    amphora_namespace,
    amphorae,
    kill,
    lb_active,
    listener,
    member,
    namespace_pids,
    pool,
    requests,
    wait_for,
)

from tests_support import Cloud

pytestmark = [pytest.mark.cloud, pytest.mark.root]

SERVICE = "loadbalancer-RegionOne"


def _kill_service(cloud: Cloud) -> None:
    os.kill(cloud.pid(SERVICE), signal.SIGKILL)


def _ports_named(cloud: Cloud, fragment: str) -> list[dict[str, Any]]:
    return [p for p in cloud.openstack("port", "list", "--long", region="CentralRegion")
            if fragment in p["Name"]]


@pytest.fixture(scope="module")
def killed_lb(cloud: Cloud, spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """lb-k9, whose create was cut by kill -9 of the service once its amphora was booting."""
    lb = cloud.openstack("loadbalancer", "create", "--name", "lb-k9", "--vip-subnet-id",
                         spec["subnet1"]["id"])
    # Cut the flow once it has started on the amphora (ports and server in flight).
    wait_for(lambda: amphorae(cloud, lb["id"]), 30, interval=0.2, what="an amphora row")
    time.sleep(1.0)
    _kill_service(cloud)
    yield lb
    cloud.openstack_raw("loadbalancer", "delete", "--cascade", "--wait", "lb-k9")


def test_kill_9_during_loadbalancer_create(cloud: Cloud, killed_lb: dict[str, Any]) -> None:
    lb = lb_active(cloud, "lb-k9")
    amps = amphorae(cloud, lb["id"], deleted=True)
    assert [a["status"] for a in amps] == ["ALLOCATED"], amps
    amp = amps[0]["id"]
    # Nothing made twice: one management port, one VRRP port, one server.
    assert len(_ports_named(cloud, f"octavia-lb-mgmt-{amp}")) == 1
    assert len(_ports_named(cloud, f"octavia-lb-vrrp-{amp}")) == 1
    servers = [s for s in cloud.openstack("server", "list", "--all-projects", "--name",
                                          f"^amphora-{amp}$")]
    assert len(servers) == 1


def test_kill_9_during_member_create_on_another_network(
        cloud: Cloud, spec: dict[str, Any], killed_lb: dict[str, Any]) -> None:
    lb_active(cloud, "lb-k9")
    listener(cloud, "k9-listener", "HTTP", 80, lb="lb-k9")
    pool(cloud, "k9-pool", "k9-listener", "HTTP", "ROUND_ROBIN")
    cloud.openstack("loadbalancer", "member", "create", "--name", "lb-backend4", "--subnet-id",
                    spec["subnet2"]["id"], "--address", spec["ips"]["lb-backend4"],
                    "--protocol-port", "80", "k9-pool")
    time.sleep(0.5)  # the flow is creating and attaching the amphora's port on net2
    _kill_service(cloud)
    lb = lb_active(cloud, "lb-k9")
    url = f"http://{lb['vip_address']}/"
    # RegionTwo learns the amphora's new port on net2 within an agent round or two.
    wait_for(lambda: requests(cloud, NET1, url, 1) == ["lb-backend4"], 20,
             what="backend4 answering through lb-k9")
    assert requests(cloud, NET1, url, 3) == ["lb-backend4"] * 3
    amp = amphorae(cloud, lb["id"], deleted=True)[0]["id"]
    net2 = cloud.openstack("network", "show", NET2, region="CentralRegion")["id"]
    assert len(_ports_named(cloud, f"octavia-amp-{amp}-net-{net2}")) == 1


def test_dead_amphora_is_replaced_and_serves_the_same_vip(
        cloud: Cloud, spec: dict[str, Any], killed_lb: dict[str, Any]) -> None:
    lb = lb_active(cloud, "lb-k9")
    if not cloud.openstack("loadbalancer", "member", "list", "k9-pool"):
        member(cloud, "k9-pool", spec, "lb-backend4")
    old = amphorae(cloud, lb["id"], deleted=True)[0]
    namespace = amphora_namespace(cloud, old["id"])
    pids = namespace_pids(namespace)
    assert pids, f"nothing runs in {namespace}"
    started = time.monotonic()
    # Everything in the amphora dies (its agent, HAProxy, init) while its namespace
    # stays: a crashed guest, which its host does not start again (a namespace the
    # host lost is another story: test_demo.py), so the health manager replaces it.
    kill(pids)

    def replaced() -> list[dict[str, Any]] | None:
        amps = [a for a in amphorae(cloud, lb["id"], deleted=True) if a["id"] != old["id"]]
        return amps if amps and amps[0]["status"] == "ALLOCATED" else None
    wait_for(replaced, 120, what="a replacement amphora")
    lb = lb_active(cloud, "lb-k9")
    url = f"http://{lb['vip_address']}/"
    wait_for(lambda: requests(cloud, NET1, url, 1) == ["lb-backend4"], 20,
             what="backend4 answering through the new amphora")
    elapsed = time.monotonic() - started
    assert elapsed < 120
    wait_for(lambda: cloud.openstack("loadbalancer", "show", "lb-k9")["operating_status"]
             == "ONLINE", 30, what="lb-k9 ONLINE")
    amps = [a for a in amphorae(cloud, lb["id"], deleted=True) if a["status"] != "DELETED"]
    assert [a["status"] for a in amps] == ["ALLOCATED"] and amps[0]["id"] != old["id"]
