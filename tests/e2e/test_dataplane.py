"""Issue 3's acceptance: instances booted with the real CLI, real packets across regions.

Instances are namespaces on the hosts of the embedded deployment; networks
are Linux bridges joined across hosts and regions by VXLAN, with forwarding
entries learned from shadow ports. Every request here is a real packet.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lb_support import backend_group, own_group, servers_active, servers_gone

from tests_support import Cloud, wait_for

pytestmark = [pytest.mark.cloud, pytest.mark.root]

NOVA = str(Path(sys.executable).parent / "nova")

# The cirros way of "logging in and starting a service": a web server that
# answers with the instance's name and address.
WEB_SERVER = """#!/bin/sh
ip=$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
www=/tmp/tcl-www-$(hostname)
mkdir -p "$www" && echo "$(hostname) $ip" > "$www/index.html"
echo "web server on $ip"
cd "$www" && exec python3 -m http.server 80
"""


def boot(cloud: Cloud, name: str, network: str, region: str, host: str,
         user_data: Path | None = None, project: str = "admin",
         wait: bool = True) -> dict[str, Any]:
    """The server as ``server create --wait`` shows it; only requested if not ``wait``
    (then :func:`booted` waits, after several were requested together)."""
    az = {"RegionOne": "az1", "RegionTwo": "az2"}[region]
    # `default` too: these servers also talk to each other (and to nova-vm's port).
    backends = backend_group(cloud, project)
    default = own_group(cloud, "default", project) or "default"
    args = ["server", "create", "--image", "cirros", "--flavor", "m1.tiny",
            "--network", network, "--availability-zone", f"{az}:{host}",
            "--security-group", default, "--security-group", backends]
    if user_data is not None:
        args += ["--user-data", str(user_data)]
    server: dict[str, Any] = cloud.openstack(*args, name, project=project, region=region)
    return booted(cloud, [(server, region)], project)[0] if wait else server


def booted(cloud: Cloud, servers: list[tuple[dict[str, Any], str]],
           project: str = "admin") -> list[dict[str, Any]]:
    """Each requested (server, region) once ACTIVE, shown by the CLI."""
    servers_active(cloud, {str(server["id"]): region for server, region in servers})
    shown = [cloud.openstack("server", "show", str(server["id"]), project=project,
                             region=region) for server, region in servers]
    for server in shown:
        assert server["status"] == "ACTIVE", server
    return shown


def address(server: dict[str, Any]) -> str:
    addresses = server["addresses"]
    if isinstance(addresses, dict):
        return str(next(iter(addresses.values()))[0])
    return str(addresses).split("=")[1].split(",")[0].strip("'[] ")


def curl(cloud: Cloud, region: str, network: str, ip: str) -> subprocess.CompletedProcess[str]:
    return cloud.exec(region, "curl", "-s", "--max-time", "3", f"http://{ip}/",
                      network=network)


def fdb(cloud: Cloud, host: str) -> list[str]:
    """The VXLAN forwarding entries the agent wrote (MAC -> remote VTEP); the bridge's
    own learned entries age out by themselves and are not the agent's."""
    out = subprocess.run(["ip", "netns", "exec", cloud.host_namespace(host), "bridge", "fdb",
                          "show"], capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if "vxlan-" in line and " dst " in line)


@pytest.fixture(scope="module")
def stretched(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """net1 stretched over both regions with backend1, backend2 (RegionOne) and
    backend3 (RegionTwo) answering HTTP."""
    script = tmp_path_factory.mktemp("userdata") / "web.sh"
    script.write_text(WEB_SERVER)
    cloud.openstack("network", "create", "dp-net1", region="CentralRegion")
    cloud.openstack("subnet", "create", "--subnet-range", "10.0.10.0/24", "--gateway", "none",
                    "--network", "dp-net1", "dp-subnet1", region="CentralRegion")
    where = {"backend1": ("RegionOne", "RegionOne-host1"),
             "backend2": ("RegionOne", "RegionOne-host2"),
             "backend3": ("RegionTwo", "RegionTwo-host1")}
    requested = [(boot(cloud, name, "dp-net1", region, host, script, wait=False), region)
                 for name, (region, host) in where.items()]
    servers = dict(zip(where, booted(cloud, requested), strict=True))
    yield {"servers": servers, "ips": {n: address(s) for n, s in servers.items()},
           "script": script}
    # Free the names: later modules boot backends of their own.
    for name, server in servers.items():
        cloud.openstack_raw("server", "delete", server["id"], region=where[name][0])
    servers_gone(cloud, {server["id"]: where[name][0] for name, server in servers.items()})


def test_probe_reaches_every_backend_across_regions(cloud: Cloud,
                                                    stretched: dict[str, Any]) -> None:
    for name, ip in stretched["ips"].items():
        answer = wait_for(lambda ip=ip: curl(cloud, "RegionOne", "dp-net1", ip).stdout.strip(),
                          timeout=30)
        assert answer == f"{name} {ip}"
    ping = cloud.exec("RegionOne", "ping", "-c", "2", "-W", "2", stretched["ips"]["backend3"],
                      network="dp-net1")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # The instance ran its user-data in its own process tree, and logged to its console.
    console = cloud.openstack_raw("console", "log", "show", "backend3", region="RegionTwo")
    assert "web server on" in console.stdout


def test_exec_runs_inside_an_instance(cloud: Cloud, stretched: dict[str, Any]) -> None:
    result = cloud.exec("RegionTwo", "hostname", server="backend3")
    assert result.stdout.strip() == "backend3", result.stderr
    result = cloud.exec("RegionTwo", "sh", "-c", "echo $$", server="backend3")
    assert result.returncode == 0 and int(result.stdout.split()[0]) < 100  # its own PID ns


def test_same_cidr_in_two_projects_is_isolated(cloud: Cloud,
                                               stretched: dict[str, Any]) -> None:
    cloud.openstack("network", "create", "demo-dp-net", project="demo", region="RegionOne")
    cloud.openstack("subnet", "create", "--subnet-range", "10.0.10.0/24", "--gateway", "none",
                    "--network", "demo-dp-net", "demo-dp-subnet", project="demo",
                    region="RegionOne")
    # backend2's address; the demo probe itself takes 10.0.10.1 on its own network.
    target = stretched["ips"]["backend2"]
    own = cloud.exec("RegionOne", "ip", "-4", "-o", "addr", "show", network="demo-dp-net")
    assert f" {target}/" not in own.stdout
    assert curl(cloud, "RegionOne", "dp-net1", target).returncode == 0
    other = curl(cloud, "RegionOne", "demo-dp-net", target)
    assert other.returncode != 0 and "backend2" not in other.stdout
    ping = cloud.exec("RegionOne", "ping", "-c", "1", "-W", "1", target, network="demo-dp-net")
    assert ping.returncode != 0


@pytest.mark.parametrize("network_type", ["vlan", "flat"])
def test_vlan_and_flat_networks_in_one_region(cloud: Cloud, stretched: dict[str, Any],
                                              network_type: str) -> None:
    name = f"dp-{network_type}"
    net = cloud.openstack("network", "create", "--provider-network-type", network_type, name,
                          region="CentralRegion")
    assert net["provider:network_type"] == network_type
    third = {"vlan": 61, "flat": 62}[network_type]
    cloud.openstack("subnet", "create", "--subnet-range", f"10.0.{third}.0/24",
                    "--gateway", "none", "--network", name, f"{name}-subnet",
                    region="CentralRegion")
    servers = booted(cloud, [(boot(cloud, f"{name}-vm{i}", name, "RegionOne",
                                   f"RegionOne-host{i}", stretched["script"], wait=False),
                              "RegionOne") for i in (1, 2)])
    for server in servers:
        ip = address(server)
        answer = wait_for(lambda ip=ip: curl(cloud, "RegionOne", name, ip).stdout.strip(),
                          timeout=30)
        assert answer == f"{server['name']} {ip}"


def test_deleted_instance_leaves_the_other_regions_forwarding_tables(
        cloud: Cloud, stretched: dict[str, Any]) -> None:
    server = boot(cloud, "short-lived", "dp-net1", "RegionTwo", "RegionTwo-host2")
    port = cloud.openstack("port", "list", "--server", server["id"], region="RegionTwo")[0]
    mac = port["MAC Address"]
    wait_for(lambda: any(mac in line for line in fdb(cloud, "RegionOne-host1")), timeout=30)
    cloud.openstack_raw("server", "delete", "--wait", "short-lived",
                        region="RegionTwo").check_returncode()
    wait_for(lambda: not any(mac in line for line in fdb(cloud, "RegionOne-host1")),
             timeout=30)
    shadows = cloud.openstack("port", "list", "--device-owner", "compute:shadow",
                              region="RegionOne")
    assert port["ID"] not in {p["ID"] for p in shadows}


def test_agent_kill_9_keeps_traffic_and_converges(cloud: Cloud,
                                                  stretched: dict[str, Any]) -> None:
    host = "RegionOne-host1"
    ip = stretched["ips"]["backend3"]
    before = fdb(cloud, host)
    old = cloud.pid(f"agent-{host}")
    os.kill(old, signal.SIGKILL)
    # The kernel keeps forwarding while the agent is gone.
    assert curl(cloud, "RegionOne", "dp-net1", ip).stdout.strip().startswith("backend3")
    wait_for(lambda: _restarted(cloud, f"agent-{host}", old), timeout=60)
    time.sleep(5)  # a few reconcile rounds of the new agent
    assert fdb(cloud, host) == before  # converged: nothing lost, nothing duplicated
    assert curl(cloud, "RegionOne", "dp-net1", ip).stdout.strip().startswith("backend3")


def _restarted(cloud: Cloud, service: str, old: int) -> bool:
    try:
        return cloud.pid(service) != old
    except (OSError, ValueError):
        return False


def test_nova_boot_with_a_port(cloud: Cloud, stretched: dict[str, Any]) -> None:
    """python-novaclient's `nova boot --nic port-id=` works as against Nova."""
    port = cloud.openstack("port", "create", "--network", "dp-net1", "nova-port",
                           region="RegionOne")
    env = cloud.env("admin", "RegionOne")
    booted = subprocess.run(
        [NOVA, "boot", "--image", "cirros", "--flavor", "m1.tiny",
         "--nic", f"port-id={port['id']}", "--poll", "nova-vm"],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert booted.returncode == 0, booted.stdout + booted.stderr
    server = cloud.openstack("server", "show", "nova-vm", region="RegionOne")
    assert server["status"] == "ACTIVE"
    ip = port["fixed_ips"][0]["ip_address"]
    ping = cloud.exec("RegionTwo", "ping", "-c", "1", "-W", "2", ip, server="backend3")
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_interface_attach_stretches_another_network(cloud: Cloud,
                                                    stretched: dict[str, Any]) -> None:
    """The spec's Fig. 2 plumbing: a RegionOne instance gets a port on a network that
    lives in RegionTwo, and reaches RegionTwo's instance on it over VXLAN."""
    cloud.openstack("network", "create", "--availability-zone-hint", "RegionTwo", "dp-net2",
                    region="CentralRegion")
    cloud.openstack("subnet", "create", "--subnet-range", "10.0.20.0/24", "--gateway", "none",
                    "--network", "dp-net2", "dp-subnet2", region="CentralRegion")
    far = boot(cloud, "backend4", "dp-net2", "RegionTwo", "RegionTwo-host2",
               stretched["script"])
    far_ip = address(far)
    cloud.openstack_raw("server", "add", "network", "backend1", "dp-net2",
                        region="RegionOne").check_returncode()
    answer = wait_for(lambda: cloud.exec("RegionOne", "curl", "-s", "--max-time", "3",
                                         f"http://{far_ip}/", server="backend1").stdout.strip(),
                      timeout=30)
    assert answer == f"backend4 {far_ip}"
    # Detach: the interface leaves backend1 again.
    port = next(p for p in cloud.openstack("port", "list", "--server", "backend1",
                                           "--network", "dp-net2", region="RegionOne"))
    cloud.openstack_raw("server", "remove", "port", "backend1", port["ID"],
                        region="RegionOne").check_returncode()
    wait_for(lambda: cloud.exec("RegionOne", "ip", "-o", "link", "show", "eth1",
                                server="backend1").returncode != 0, timeout=30)

