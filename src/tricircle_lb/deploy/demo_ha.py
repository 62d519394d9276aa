"""The high-availability part of the demo: an ACTIVE_STANDBY flavor, its MASTER amphora,
and killing that amphora as a host failure would.

The flavor is made as an operator makes one in Octavia (a flavor profile of
the ``amphora`` provider with ``loadbalancer_topology`` ACTIVE_STANDBY, then
a flavor over it). An amphora is an instance named ``amphora-<amphora id>``
whose namespace is ``<prefix>i-<first 12 hex of the server id>``; killing
every process in it with SIGKILL is the closest thing to pulling its plug.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from typing import Any

from tricircle_lb.deploy.bootstrap import Api
from tricircle_lb.deploy.demo_api import MARK, DemoError, named, one
from tricircle_lb.deploy.probe import instance_namespace

LB = "/v2/lbaas"
FLAVOR_PROFILE = "demo-active-standby"
FLAVOR = "demo-ha"
TOPOLOGY_DATA = json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})


def ensure_ha_flavor(lb: Api) -> dict[str, Any]:
    """The demo's ACTIVE_STANDBY flavor (and its profile), made once."""
    profile = one(lb, f"{LB}/flavorprofiles", "flavorprofiles", FLAVOR_PROFILE)
    if profile is None:
        profile = lb.call("POST", f"{LB}/flavorprofiles", {"flavorprofile": {
            "name": FLAVOR_PROFILE, "provider_name": "amphora",
            "flavor_data": TOPOLOGY_DATA}})["flavorprofile"]
    flavor = one(lb, f"{LB}/flavors", "flavors", FLAVOR)
    if flavor is None:
        flavor = lb.call("POST", f"{LB}/flavors", {"flavor": {
            "name": FLAVOR, "description": MARK, "flavor_profile_id": profile["id"],
            "enabled": True}})["flavor"]
    return flavor


def delete_ha_flavor(lb: Api) -> list[str]:
    done = []
    for flavor in named(lb, f"{LB}/flavors", "flavors", FLAVOR):
        lb.call("DELETE", f"{LB}/flavors/{flavor['id']}")
        done.append(f"deleted flavor {FLAVOR}")
    for profile in named(lb, f"{LB}/flavorprofiles", "flavorprofiles", FLAVOR_PROFILE):
        lb.call("DELETE", f"{LB}/flavorprofiles/{profile['id']}")
        done.append(f"deleted flavor profile {FLAVOR_PROFILE}")
    return done


def amphorae(lb: Api, lb_id: str) -> list[dict[str, Any]]:
    """The load balancer's amphorae as the admin API shows them (roles, addresses)."""
    found: list[dict[str, Any]] = lb.call("GET", "/v2/octavia/amphorae", params={
        "loadbalancer_id": lb_id})["amphorae"]
    return [a for a in found if a.get("loadbalancer_id") == lb_id]


def master(lb: Api, lb_id: str) -> dict[str, Any]:
    found = [a for a in amphorae(lb, lb_id) if a.get("role") == "MASTER"]
    if not found:
        roles = ", ".join(str(a.get("role")) for a in amphorae(lb, lb_id)) or "none"
        raise DemoError(f"no MASTER amphora (roles: {roles}); is the topology "
                        "ACTIVE_STANDBY?")
    return found[0]


def amphora_namespace(compute: Api, prefix: str, amphora: dict[str, Any]) -> str:
    """The namespace of ``amphora``'s instance (``amphora-<id>`` in the region's compute)."""
    name = f"amphora-{amphora['id']}"
    servers = [s for s in compute.call("GET", "/servers/detail", params={
        "name": name, "all_tenants": "1"})["servers"] if s["name"] == name]
    server_id = servers[0]["id"] if servers else amphora.get("compute_id")
    if not server_id:
        raise DemoError(f"no server {name} for amphora {amphora['id']}")
    return instance_namespace(prefix, str(server_id))


def kill_namespace(namespace: str) -> int:
    """SIGKILL every process in ``namespace``; how many were killed."""
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                            text=True, check=False)
    if listed.returncode != 0:
        raise DemoError(f"namespace {namespace}: {listed.stderr.strip()}")
    killed = 0
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    return killed
