"""How Nova and Glance show things, by microversion and by who asks."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from tricircle_lb.compute import catalog
from tricircle_lb.compute.microversions import Version
from tricircle_lb.compute.models import Interface, Server

Body = dict[str, Any]
POWER_NOSTATE, POWER_RUNNING, POWER_SHUTDOWN = 0, 1, 4
STATUS_BY_VM_STATE = {"building": "BUILD", "active": "ACTIVE", "stopped": "SHUTOFF",
                      "error": "ERROR", "deleted": "DELETED"}
STATUS_BY_TASK = {"rebooting": "REBOOT", "reboot_started_hard": "HARD_REBOOT",
                  "rebooting_hard": "HARD_REBOOT"}


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def status(server: Server) -> str:
    if server.vm_state == "active" and server.task_state in STATUS_BY_TASK:
        return STATUS_BY_TASK[server.task_state]
    return STATUS_BY_VM_STATE.get(server.vm_state, "UNKNOWN")


def instance_name(server: Server) -> str:
    return f"instance-{server.id.replace('-', '')[:8]}"


def host_id(server: Server) -> str:
    if not server.host:
        return ""
    return hashlib.sha224((server.project_id + server.host).encode()).hexdigest()


def links(base_url: str, collection: str, item_id: str) -> list[Body]:
    return [{"rel": "self", "href": f"{base_url}/v2.1/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{base_url}/{collection}/{item_id}"}]


def addresses(server: Server) -> dict[str, list[Body]]:
    result: dict[str, list[Body]] = {}
    for iface in server.interfaces:
        if not iface.bound:
            continue
        entries = result.setdefault(iface.network_name or iface.network_id, [])
        for ip in iface.fixed_ips:
            address = ip["ip_address"]
            entries.append({"addr": address, "version": 6 if ":" in address else 4,
                            "OS-EXT-IPS:type": "fixed",
                            "OS-EXT-IPS-MAC:mac_addr": iface.mac_address})
    return result


def server_brief(server: Server, base_url: str) -> Body:
    return {"id": server.id, "name": server.name,
            "links": links(base_url, "servers", server.id)}


def server(server: Server, version: Version, is_admin: bool, base_url: str,
           show: bool = False) -> Body:
    state = status(server)
    flavor = catalog.find_flavor(server.flavor_id)
    body: Body = {
        "id": server.id,
        "name": server.name,
        "status": state,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.meta or {}),
        "hostId": host_id(server),
        "image": {"id": server.image_id,
                  "links": [{"rel": "bookmark",
                             "href": f"{base_url}/images/{server.image_id}"}]},
        "flavor": _server_flavor(server.flavor_id, flavor, version, base_url),
        "created": iso(server.created_at),
        "updated": iso(server.updated_at),
        "addresses": addresses(server),
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(base_url, "servers", server.id),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server.availability_zone or "",
        "config_drive": server.config_drive,
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": iso(server.launched_at),
        "OS-SRV-USG:terminated_at": iso(server.deleted_at),
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": [],
        "security_groups": [{"name": n} for n in server.security_groups or ["default"]],
    }
    if state in ("BUILD", "ACTIVE"):
        body["progress"] = 0
    if is_admin:
        body["OS-EXT-SRV-ATTR:host"] = server.host
        body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server.host
        body["OS-EXT-SRV-ATTR:instance_name"] = instance_name(server)
        if version >= (2, 3):
            body.update({
                "OS-EXT-SRV-ATTR:reservation_id": f"r-{server.id[:8]}",
                "OS-EXT-SRV-ATTR:launch_index": 0,
                "OS-EXT-SRV-ATTR:hostname": server.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": server.user_data,
            })
    if version >= (2, 9):
        body["locked"] = server.locked
    if version >= (2, 16) and is_admin and server.host:
        body["host_status"] = "UP"
    if version >= (2, 19):
        body["description"] = server.description
    if version >= (2, 26):
        body["tags"] = list(server.tags or [])
    if version >= (2, 63):
        body["trusted_image_certificates"] = None
    if version >= (2, 71) and show:
        body["server_groups"] = []
    if version >= (2, 73):
        body["locked_reason"] = None
    if server.fault and state in ("ERROR", "DELETED"):
        fault = {k: server.fault[k] for k in ("code", "message", "created")}
        if is_admin and server.fault.get("details"):
            fault["details"] = server.fault["details"]
        body["fault"] = fault
    return body


def _server_flavor(flavor_id: str, flavor: catalog.Flavor | None, version: Version,
                   base_url: str) -> Body:
    if version < (2, 47) or flavor is None:
        return {"id": flavor_id,
                "links": [{"rel": "bookmark", "href": f"{base_url}/flavors/{flavor_id}"}]}
    return {"vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk, "ephemeral": 0,
            "swap": 0, "original_name": flavor.name, "extra_specs": {}}


def interface(iface: Interface, version: Version) -> Body:
    body: Body = {"port_id": iface.port_id, "net_id": iface.network_id,
                  "mac_addr": iface.mac_address, "port_state": iface.port_state,
                  "fixed_ips": [{"subnet_id": ip.get("subnet_id", ""),
                                 "ip_address": ip["ip_address"]} for ip in iface.fixed_ips]}
    if version >= (2, 70):
        body["tag"] = None
    return body


def flavor_brief(flavor: catalog.Flavor, version: Version, base_url: str) -> Body:
    body: Body = {"id": flavor.id, "name": flavor.name,
                  "links": links(base_url, "flavors", flavor.id)}
    if version >= (2, 55):
        body["description"] = None
    return body


def flavor(flavor: catalog.Flavor, version: Version, base_url: str) -> Body:
    body = flavor_brief(flavor, version, base_url)
    body.update({"ram": flavor.ram, "vcpus": flavor.vcpus, "disk": flavor.disk,
                 "swap": 0 if version >= (2, 75) else "", "OS-FLV-EXT-DATA:ephemeral": 0,
                 "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": True,
                 "rxtx_factor": 1.0})
    if version >= (2, 61):
        body["extra_specs"] = {}
    return body


def glance_image(image: catalog.Image) -> Body:
    body: Body = {
        "id": image.id, "name": image.name, "status": "active", "visibility": "public",
        "protected": False, "os_hidden": False, "owner": None, "checksum": image.checksum,
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(image.id.encode()).hexdigest(),
        "size": image.size, "virtual_size": image.size * 4, "disk_format": "qcow2",
        "container_format": "bare", "min_disk": image.min_disk, "min_ram": image.min_ram,
        "created_at": catalog.CREATED, "updated_at": catalog.CREATED,
        "tags": list(image.tags), "file": f"/v2/images/{image.id}/file",
        "self": f"/v2/images/{image.id}", "schema": "/v2/schemas/image", "stores": "file",
    }
    body.update(image.properties)
    return body


def nova_image(image: catalog.Image, base_url: str, detail: bool = True) -> Body:
    body: Body = {"id": image.id, "name": image.name,
                  "links": links(base_url, "images", image.id)}
    if detail:
        body.update({"status": "ACTIVE", "minDisk": image.min_disk, "minRam": image.min_ram,
                     "progress": 100, "created": catalog.CREATED, "updated": catalog.CREATED,
                     "metadata": dict(image.properties),
                     "OS-EXT-IMG-SIZE:size": image.size})
    return body
