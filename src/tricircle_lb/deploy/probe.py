"""``tricircle-lb exec``: run a command inside an instance, or on a network through a probe.

A probe is what ``ip netns exec dhcp-<net>`` is in the spec: a namespace with
its own port on the network. The port is a real one (``device_owner
network:probe``), created through the region's networking API and bound to
the region's controller host, whose agent plugs it into the probe's
namespace. Unless kept, the probe (port and namespace) is removed after the
command.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tricircle_lb.agent.instances import instances_dir
from tricircle_lb.deploy.bootstrap import Api, admin_client
from tricircle_lb.deploy.services import services
from tricircle_lb.deploy.state import Secrets
from tricircle_lb.deploy.topology import Topology

PROBE_OWNER = "network:probe"
PLUG_TIMEOUT = 60.0


class ExecError(Exception):
    """What was asked for cannot be found or made ready; the message says why."""


@dataclass(frozen=True)
class Probe:
    region: str
    network_id: str
    namespace: str
    port: dict[str, Any]

    @property
    def addresses(self) -> list[str]:
        return [ip["ip_address"] for ip in self.port.get("fixed_ips", [])]


def probe_namespace(prefix: str, region_index: int, network_id: str) -> str:
    return f"{prefix}p-{region_index}-{network_id.replace('-', '')[:12]}"


def _region_api(topology: Topology, client: Any, token: str, region: str) -> Api:
    for svc in services(topology):
        if svc.region == region and svc.kind.value == "networking":
            return Api(client, svc.url, token)
    raise ExecError(f"no networking service for region {region!r}")


def _find_network(api: Api, ref: str) -> dict[str, Any]:
    try:
        net: dict[str, Any] = api.call("GET", f"/v2.0/networks/{ref}")["network"]
        return net
    except Exception:
        pass
    found = api.call("GET", "/v2.0/networks", params={"name": ref})["networks"]
    if len(found) != 1:
        raise ExecError(f"{len(found)} networks named {ref!r} in this region")
    result: dict[str, Any] = found[0]
    return result


@contextlib.contextmanager
def probe(topology: Topology, secrets: Secrets, region: str, network: str,
          keep: bool = False) -> Iterator[Probe]:
    """A ready probe on ``network`` in ``region``; removed afterwards unless ``keep``."""
    spec = topology.region(region)
    with admin_client(topology, secrets) as (client, token):
        api = _region_api(topology, client, token, region)
        net = _find_network(api, network)
        namespace = probe_namespace(topology.prefix, spec.index, net["id"])
        _ensure_namespace(namespace)
        port = _ensure_port(api, net["id"], namespace, spec.controller_host)
        try:
            port = _wait_active(api, port["id"])
            # A kept probe's port stays ACTIVE while its namespace is made anew (deleted
            # by hand, or with the host's): wait for the agent to plug it again.
            _wait_plugged(namespace, port["mac_address"])
            yield Probe(region, net["id"], namespace, port)
        finally:
            if not keep:
                remove_probe(api, port["id"], namespace)


def _ensure_port(api: Api, network_id: str, namespace: str, host: str) -> dict[str, Any]:
    existing = api.call("GET", "/v2.0/ports", params={
        "network_id": network_id, "device_owner": PROBE_OWNER, "device_id": namespace})["ports"]
    if existing:
        port: dict[str, Any] = existing[0]
        return port
    created: dict[str, Any] = api.call("POST", "/v2.0/ports", {"port": {
        "network_id": network_id, "name": f"probe-{namespace}", "device_owner": PROBE_OWNER,
        "device_id": namespace, "binding:host_id": host,
        "binding:profile": {"netns": namespace}, "port_security_enabled": False}})["port"]
    return created


def _wait_active(api: Api, port_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + PLUG_TIMEOUT
    while True:
        port: dict[str, Any] = api.call("GET", f"/v2.0/ports/{port_id}")["port"]
        if port["status"] == "ACTIVE":
            return port
        if time.monotonic() > deadline:
            raise ExecError(f"probe port {port_id} was not plugged within {PLUG_TIMEOUT:.0f}s "
                            f"(is the agent of {port['binding:host_id']} running?)")
        time.sleep(0.3)


def _wait_plugged(namespace: str, mac: str) -> None:
    deadline = time.monotonic() + PLUG_TIMEOUT
    while mac.lower() not in subprocess.run(
            ["ip", "-n", namespace, "-o", "link"], capture_output=True, text=True,
            check=False).stdout.lower():
        if time.monotonic() > deadline:
            raise ExecError(f"the probe's port {mac} was not plugged into {namespace} "
                            f"within {PLUG_TIMEOUT:.0f}s")
        time.sleep(0.1)


def remove_probe(api: Api, port_id: str, namespace: str) -> None:
    with contextlib.suppress(Exception):
        api.call("DELETE", f"/v2.0/ports/{port_id}")
    subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, check=False)


def remove_all_probes(topology: Topology, secrets: Secrets) -> int:
    """Delete every probe port (before ``down``): no stale port outlives its namespace."""
    removed = 0
    with admin_client(topology, secrets) as (client, token):
        for region in topology.regions:
            api = _region_api(topology, client, token, region.name)
            ports = api.call("GET", "/v2.0/ports", params={"device_owner": PROBE_OWNER})
            for port in ports["ports"]:
                remove_probe(api, port["id"], port["device_id"])
                removed += 1
    return removed


def _ensure_namespace(namespace: str) -> None:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=True).stdout.split()
    if namespace not in listed:
        subprocess.run(["ip", "netns", "add", namespace], check=True)
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)


def run_in_namespace(namespace: str, command: Sequence[str]) -> int:
    """Run ``command`` in ``namespace`` with this terminal; its exit code."""
    return subprocess.call(["ip", "netns", "exec", namespace, *command])


def instance_namespace(prefix: str, server_id: str) -> str:
    """The namespace of an instance or amphora (the agent's runtime names it so)."""
    return f"{prefix}i-{server_id.replace('-', '')[:12]}"


def server_command(topology: Topology, secrets: Secrets, region: str, server: str,
                   command: Sequence[str]) -> list[str]:
    """The command line that runs ``command`` inside ``server`` (network, hostname,
    process tree and /proc of the instance)."""
    with admin_client(topology, secrets) as (client, token):
        url = next((s.url for s in services(topology)
                    if s.region == region and s.kind.value == "compute"), None)
        if url is None:
            raise ExecError(f"no compute service in region {region!r}")
        api = Api(client, f"{url}/v2.1", token)
        try:
            found = [api.call("GET", f"/servers/{server}")["server"]]
        except Exception:
            found = [s for s in api.call("GET", "/servers/detail",
                                         params={"all_tenants": "1"})["servers"]
                     if s["name"] == server]
        if len(found) != 1:
            raise ExecError(f"{len(found)} servers named {server!r} in {region}")
        server_id = found[0]["id"]
        host = found[0].get("OS-EXT-SRV-ATTR:host") or ""
    init_file = instances_dir(topology.state_dir, host) / server_id / "init-pid"
    try:
        pid = int(init_file.read_text().split()[0])
        guest_user = os.stat(f"/proc/{pid}/ns/user").st_ino
    except (OSError, ValueError, IndexError):
        namespace = instance_namespace(topology.prefix, server_id)
        return ["ip", "netns", "exec", namespace, *command]
    # A tenant's guest has a user namespace of its own: the command runs as its
    # (unprivileged) root, as a login in the guest would.
    user = ["--user"] if guest_user != os.stat("/proc/self/ns/user").st_ino else []
    return ["nsenter", "--target", str(pid), *user, "--net", "--uts", "--ipc", "--pid",
            "--mount", *command]
