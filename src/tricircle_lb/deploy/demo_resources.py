"""Idempotent create-or-reuse and delete of the demo's networks, servers and load balancers.

Each ``ensure_*`` returns the object as the API shows it, reusing one of the
same name when it is healthy and replacing it when it is in ERROR, so a
second ``tricircle-lb demo`` picks up where the first one left.
"""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from tricircle_lb.deploy.bootstrap import Api, BootstrapError
from tricircle_lb.deploy.demo_api import MARK, DemoError, gone, named, not_found, one, wait_for

SERVER_TIMEOUT = 120.0
LB_TIMEOUT = 240.0
DELETE_TIMEOUT = 120.0
LB = "/v2/lbaas"


# -- networking --------------------------------------------------------------

def ensure_network(api: Api, name: str) -> dict[str, Any]:
    """``name`` through ``api`` (central, or a region's own API: then it lives there)."""
    found = one(api, "/v2.0/networks", "networks", name)
    if found is not None:
        return found
    made: dict[str, Any] = api.call("POST", "/v2.0/networks", {"network": {
        "name": name, "description": MARK}})["network"]
    return made


def ensure_subnet(api: Api, name: str, network_id: str, cidr: str) -> dict[str, Any]:
    found = one(api, "/v2.0/subnets", "subnets", name, network_id=network_id)
    if found is not None:
        return found
    made: dict[str, Any] = api.call("POST", "/v2.0/subnets", {"subnet": {
        "name": name, "network_id": network_id, "cidr": cidr, "ip_version": 4,
        "gateway_ip": None, "description": MARK}})["subnet"]
    return made


def delete_network(api: Api, name: str) -> list[str]:
    """Delete the demo's network ``name`` (subnets go with it); retried while the ports
    of deleted amphorae and probes are still being removed."""
    return _delete_ours(api, named(api, "/v2.0/networks", "networks", name), "network",
                        "/v2.0/networks")


def ensure_security_group(api: Api, name: str,
                          ingress: tuple[tuple[str, int | None], ...]) -> dict[str, Any]:
    """Group ``name`` with (at least) an IPv4 ingress rule from anywhere per
    ``(protocol, port)`` (``None``: every port), as ``openstack security group create``
    and ``security group rule create --protocol P --dst-port N`` make them."""
    group = one(api, "/v2.0/security-groups", "security_groups", name)
    if group is None:
        group = api.call("POST", "/v2.0/security-groups", {"security_group": {
            "name": name, "description": MARK}})["security_group"]
    have = {(r.get("protocol"), r.get("port_range_min"))
            for r in group.get("security_group_rules") or []
            if r.get("direction") == "ingress" and r.get("ethertype") == "IPv4"}
    for protocol, port in ingress:
        if (protocol, port) not in have:
            api.call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": group["id"], "direction": "ingress",
                "ethertype": "IPv4", "protocol": protocol, "port_range_min": port,
                "port_range_max": port}})
    return group


def delete_security_group(api: Api, name: str) -> list[str]:
    """Delete the demo's group ``name``, retried while deleted servers still hold ports."""
    return _delete_ours(api, named(api, "/v2.0/security-groups", "security_groups", name),
                        "security group", "/v2.0/security-groups")


def _delete_ours(api: Api, found: list[dict[str, Any]], what: str, collection: str, *,
                 query: str = "", timeout: float = DELETE_TIMEOUT,
                 until_gone: bool = False) -> list[str]:
    """Delete each of ``found`` the demo made (``collection/<id>``), retried while the
    API refuses with 409 (in use by what is still going, or pending); with
    ``until_gone``, waited for until it no longer shows. A line per deletion."""
    done = []
    for item in found:
        marks = (item.get("description"), (item.get("metadata") or {}).get("created_by"))
        if MARK not in marks:
            continue
        path = f"{collection}/{item['id']}"
        wait_for(partial(_try_delete, api, path + query), timeout,
                 f"delete {what} {item['name']}", interval=1.0)
        if until_gone:
            wait_for(partial(_gone, api, path), DELETE_TIMEOUT,
                     f"{what} {item['name']} deleted", interval=1.0)
        done.append(f"deleted {what} {item['name']}")
    return done


def _try_delete(api: Api, path: str) -> bool | None:
    """True once ``path`` is deleted; None while the API refuses because it is in use."""
    try:
        api.call("DELETE", path)
    except BootstrapError as exc:
        if not_found(exc):
            return True
        if ": 409 " in str(exc):
            return None
        raise
    return True


def _gone(api: Api, path: str) -> bool | None:
    return True if gone(api, path) else None


# -- compute -----------------------------------------------------------------

def start_server(compute: Api, image: Api, name: str, network_id: str, zone: str,
                 user_data: str, security_groups: tuple[str, ...] = ()) -> dict[str, Any]:
    """Server ``name`` on ``network_id`` in availability zone ``zone`` (``az:host`` pins
    the host) in ``security_groups`` (names; none: ``default``), booting or reused; one
    in ERROR is deleted and booted again."""
    found = _server(compute, name)
    if found is not None and found["status"] == "ERROR":
        _delete_server(compute, found["id"])
        found = None
    if found is not None:
        return found
    images = image.call("GET", "/v2/images", params={"name": "cirros"})["images"]
    if not images:
        raise DemoError("the region has no cirros image")
    made: dict[str, Any] = compute.call("POST", "/servers", {"server": {
        "name": name, "imageRef": images[0]["id"], "flavorRef": "1",
        "networks": [{"uuid": network_id}], "availability_zone": zone,
        "metadata": {"created_by": MARK},
        "user_data": base64.b64encode(user_data.encode()).decode(),
        **({"security_groups": [{"name": g} for g in security_groups]}
           if security_groups else {})}})["server"]
    return made


def wait_server(compute: Api, server: dict[str, Any]) -> dict[str, Any]:
    """``server`` once ACTIVE (with its addresses)."""
    server_id, name = server["id"], server.get("name", server["id"])

    def active() -> dict[str, Any] | None:
        got: dict[str, Any] = compute.call("GET", f"/servers/{server_id}")["server"]
        if got["status"] == "ERROR":
            raise DemoError(f"server {name} went to ERROR: {got.get('fault', '')}")
        return got if got["status"] == "ACTIVE" else None
    result: dict[str, Any] = wait_for(active, SERVER_TIMEOUT, f"server {name} ACTIVE")
    return result


def server_address(server: dict[str, Any]) -> str:
    for addresses in server.get("addresses", {}).values():
        for address in addresses:
            return str(address["addr"])
    raise DemoError(f"server {server['name']} has no address")


def _server(compute: Api, name: str) -> dict[str, Any] | None:
    found = [s for s in compute.call("GET", "/servers/detail", params={"name": name})["servers"]
             if s["name"] == name]
    return found[0] if found else None


def _delete_server(compute: Api, server_id: str) -> None:
    if not _try_delete(compute, f"/servers/{server_id}"):
        raise DemoError(f"server {server_id} could not be deleted")
    wait_for(partial(_gone, compute, f"/servers/{server_id}"),
             DELETE_TIMEOUT, f"server {server_id} deleted")


def delete_server(compute: Api, name: str) -> list[str]:
    servers = compute.call("GET", "/servers/detail", params={"name": name})["servers"]
    return _delete_ours(compute, [s for s in servers if s["name"] == name], "server",
                        "/servers", until_gone=True)


# -- load balancing ------------------------------------------------------------

def start_loadbalancer(lb: Api, name: str, subnet_id: str,
                       flavor_id: str | None = None) -> dict[str, Any]:
    """Load balancer ``name`` with its VIP on ``subnet_id``, being created or reused; one
    in ERROR is deleted (cascade) and created again. :func:`wait_active` waits for it."""
    found = one(lb, f"{LB}/loadbalancers", "loadbalancers", name)
    if found is not None and found["provisioning_status"] == "ERROR":
        delete_loadbalancer(lb, name)
        found = None
    if found is not None:
        return found
    body: dict[str, Any] = {"name": name, "vip_subnet_id": subnet_id, "description": MARK}
    if flavor_id is not None:
        body["flavor_id"] = flavor_id
    made: dict[str, Any] = lb.call("POST", f"{LB}/loadbalancers",
                                   {"loadbalancer": body})["loadbalancer"]
    return made


def wait_active(lb: Api, lb_id: str, name: str) -> dict[str, Any]:
    """The load balancer once ACTIVE (after each change of it or of a child)."""
    def active() -> dict[str, Any] | None:
        got: dict[str, Any] = lb.call("GET", f"{LB}/loadbalancers/{lb_id}")["loadbalancer"]
        if got["provisioning_status"] == "ERROR":
            raise DemoError(f"load balancer {name} went to ERROR")
        return got if got["provisioning_status"] == "ACTIVE" else None
    result: dict[str, Any] = wait_for(active, LB_TIMEOUT, f"load balancer {name} ACTIVE")
    return result


def _child(lb: Api, collection: str, name: str, lb_id: str) -> dict[str, Any] | None:
    """The listener or pool ``name`` of load balancer ``lb_id`` (they list theirs as
    ``loadbalancers: [{id}]``)."""
    return next((item for item in named(lb, f"{LB}/{collection}", collection, name)
                 if any(ref.get("id") == lb_id for ref in item.get("loadbalancers", []))),
                None)


def ensure_listener(lb: Api, lb_obj: dict[str, Any], name: str, port: int) -> dict[str, Any]:
    found = _child(lb, "listeners", name, lb_obj["id"])
    if found is None:
        found = lb.call("POST", f"{LB}/listeners", {"listener": {
            "name": name, "protocol": "HTTP", "protocol_port": port,
            "loadbalancer_id": lb_obj["id"]}})["listener"]
        wait_active(lb, lb_obj["id"], lb_obj["name"])
    return found


def ensure_pool(lb: Api, lb_obj: dict[str, Any], listener: dict[str, Any],
                name: str) -> dict[str, Any]:
    found = _child(lb, "pools", name, lb_obj["id"])
    if found is None:
        found = lb.call("POST", f"{LB}/pools", {"pool": {
            "name": name, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "listener_id": listener["id"]}})["pool"]
        wait_active(lb, lb_obj["id"], lb_obj["name"])
    return found


def ensure_member(lb: Api, lb_obj: dict[str, Any], pool: dict[str, Any], name: str,
                  address: str, subnet_id: str) -> dict[str, Any]:
    """Member ``name`` of ``pool``; one at an old address (a rebooted backend) is replaced."""
    path = f"{LB}/pools/{pool['id']}/members"
    found = one(lb, path, "members", name)
    if found is not None and found["address"] != address:
        lb.call("DELETE", f"{path}/{found['id']}")
        wait_active(lb, lb_obj["id"], lb_obj["name"])
        found = None
    if found is None:
        found = lb.call("POST", path, {"member": {
            "name": name, "address": address, "protocol_port": 80,
            "subnet_id": subnet_id}})["member"]
        wait_active(lb, lb_obj["id"], lb_obj["name"])
    return found


def delete_loadbalancer(lb: Api, name: str) -> list[str]:
    # Refused (409) while PENDING_*: waited for to settle, then cascaded.
    return _delete_ours(lb, named(lb, f"{LB}/loadbalancers", "loadbalancers", name),
                        "load balancer", f"{LB}/loadbalancers", query="?cascade=true",
                        timeout=LB_TIMEOUT, until_gone=True)
