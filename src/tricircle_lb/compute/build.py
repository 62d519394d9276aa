"""Creating a server: validate, place, plumb its ports, hand it to the host agent.

The order, and what each failure leaves behind:

1. Validate flavor, image, zone, key pair, networks and ports as the caller
   (404s and 400s as Nova answers them); nothing exists yet.
2. Record the server (``BUILD``/``scheduling``) on the least loaded host,
   with the ports the user gave, in one transaction; no host → ``ERROR``
   with Nova's "No valid host was found."
3. ``networking``: create a port per requested network through the region's
   networking as the caller (``device_id`` = the server), then bind every
   port to the host as the service. Any refusal (e.g. ``network not located
   in current region``) → ``ERROR`` with that message as the fault; the ports
   compute created are deleted and the given ones unbound.
4. ``spawning``: the host's agent boots the namespace and reports ``ACTIVE``.

A crash during 3 leaves the server in ``scheduling``/``networking``; the
sweeper (servers.py) turns it into ``ERROR`` after ``build_timeout`` and
releases its ports the same way, finding ports created but not yet recorded
by their ``device_id``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ApiError, BadRequest, Conflict, NotFound
from tricircle_lb.compute import catalog, policy, scheduler
from tricircle_lb.compute.config import ComputeConfig
from tricircle_lb.compute.microversions import Version
from tricircle_lb.compute.models import Interface, Server, utcnow
from tricircle_lb.compute.network_client import NetworkClient
from tricircle_lb.compute.schemas import ServerCreate
from tricircle_lb.compute.views import iso
from tricircle_lb.db import Database

LOG = logging.getLogger(__name__)
Body = dict[str, Any]
# Networking's stand-ins for ports of other regions; never compute's to delete.
SHADOW_OWNER = "compute:shadow"


@dataclass
class PortRequest:
    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


@dataclass
class Plan:
    """A validated create request."""

    name: str
    flavor: catalog.Flavor
    image: catalog.Image
    zone: str
    forced_host: str | None
    ports: list[PortRequest] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    security_group_ids: list[str] | None = None
    user_data: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    config_drive: str = ""


def sanitize_hostname(name: str, fallback: str) -> str:
    """Nova's hostname from a display name: lower case, [a-z0-9.-], at most 63."""
    text = re.sub(r"[ _]", "-", name.lower())
    text = re.sub(r"[^a-z0-9.-]", "", text)[:63].strip(".-")
    return text or fallback


class Builder:
    def __init__(self, db: Database, cfg: ComputeConfig, net: NetworkClient) -> None:
        self.db = db
        self.cfg = cfg
        self.net = net

    # -- 1. validation -----------------------------------------------------------

    def validate(self, ctx: Context, req: ServerCreate, version: Version) -> Plan:
        flavor = catalog.find_flavor(str(req.flavorRef))
        if flavor is None:
            raise BadRequest(f"Flavor {req.flavorRef} could not be found.")
        if not req.imageRef:
            raise BadRequest("Missing imageRef attribute")
        image = catalog.find_image(self.cfg.region_name, req.imageRef)
        if image is None:
            raise BadRequest(f"Image {req.imageRef} could not be found.")
        if req.key_name is not None:
            raise BadRequest("Invalid key_name provided.")
        if req.description is not None and version < (2, 19):
            raise BadRequest("Additional properties are not allowed ('description' was "
                             "unexpected)")
        if req.tags is not None and version < (2, 52):
            raise BadRequest("Additional properties are not allowed ('tags' was unexpected)")
        zone, host = self._zone(ctx, req.availability_zone)
        groups = [g.name for g in req.security_groups or []]
        plan = Plan(name=req.name, flavor=flavor, image=image, zone=zone, forced_host=host,
                    security_groups=groups, user_data=req.user_data,
                    metadata=dict(req.metadata), description=req.description,
                    tags=list(req.tags or []),
                    config_drive="True" if req.config_drive in (True, "True", "true") else "")
        plan.ports = self._ports(ctx, req.networks, version)
        if groups and any(p.port_id is None for p in plan.ports):
            plan.security_group_ids = self._groups(ctx, groups)
        return plan

    def _zone(self, ctx: Context, wanted: str | None) -> tuple[str, str | None]:
        if not wanted:
            return self.cfg.availability_zone, None
        zone, _, rest = wanted.partition(":")
        host = rest.split(":", 1)[0] or None
        if host is not None:
            policy.enforce_admin(ctx, "os_compute_api:servers:create:forced_host")
        zone = zone or self.cfg.availability_zone
        if zone != self.cfg.availability_zone:
            raise BadRequest("The requested availability zone is not available")
        return zone, host

    def _ports(self, ctx: Context, networks: Any, version: Version) -> list[PortRequest]:
        if networks is None and version >= (2, 37):
            raise BadRequest("Invalid input for field/attribute server. Value: None. "
                             "'networks' is a required property")
        if isinstance(networks, str) and version < (2, 37):
            raise BadRequest(f"Invalid input for field/attribute networks. Value: {networks}."
                             f" '{networks}' is not of type 'array'")
        if networks == "none":
            return []
        if networks is None or networks == "auto":
            return self._auto_network(ctx, required=networks == "auto")
        requests: list[PortRequest] = []
        seen_ports: set[str] = set()
        for item in networks:
            if item.port:
                if item.port in seen_ports:
                    raise BadRequest(f"Port {item.port} is requested more than once.")
                seen_ports.add(item.port)
                requests.append(PortRequest(port_id=self._usable_port(ctx, item.port)))
                continue
            if not item.uuid:
                raise BadRequest("Bad networks format: network uuid is not in proper format "
                                 "(None)")
            if item.fixed_ip is not None:
                try:
                    ipaddress.ip_address(item.fixed_ip)
                except ValueError as exc:
                    raise BadRequest(f"Invalid fixed IP address ({item.fixed_ip})") from exc
            self._check_network(ctx, item.uuid)
            requests.append(PortRequest(network_id=item.uuid, fixed_ip=item.fixed_ip))
        return requests

    def _auto_network(self, ctx: Context, required: bool) -> list[PortRequest]:
        visible = [n for n in self.net.list_networks(ctx.token)
                   if n.get("project_id") == ctx.project_id or n.get("shared")]
        if len(visible) > 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more "
                           "specific.")
        if not visible:
            if required:
                raise BadRequest(f"Unable to automatically allocate a network for project "
                                 f"{ctx.project_id}")
            return []
        return [PortRequest(network_id=str(visible[0]["id"]))]

    def _check_network(self, ctx: Context, network_id: str) -> None:
        try:
            self.net.get_network(network_id, ctx.token)
        except NotFound as exc:
            raise BadRequest(f"Network {network_id} could not be found.") from exc
        except BadRequest:
            # Networking refuses the network in this region (a local network of
            # another region): the build fails with its words as the fault.
            pass

    def _usable_port(self, ctx: Context, port_id: str) -> str:
        try:
            port = self.net.get_port(port_id, ctx.token)
        except NotFound as exc:
            raise BadRequest(f"Port id {port_id} could not be found.") from exc
        if port.get("device_id") or port.get("binding:host_id"):
            raise Conflict(f"Port {port_id} is still in use.")
        return port_id

    def _groups(self, ctx: Context, names: list[str]) -> list[str]:
        try:
            return self.net.security_group_ids(ctx.token, names)
        except (BadRequest, NotFound) as exc:
            raise BadRequest(f"{exc.message.rstrip('.')} ({ctx.project_id}).") from exc

    # -- 2.-4. building ----------------------------------------------------------

    def create(self, ctx: Context, plan: Plan, name: str) -> str:
        """Record, place and plumb one server; returns its id (even if it ended in ERROR)."""
        server_id = str(uuid.uuid4())
        error: str | None = None
        with self.db.write() as session:
            try:
                host: str | None = scheduler.choose_host(session, self.cfg.hosts,
                                                         plan.forced_host)
            except scheduler.NoValidHost as exc:
                host, error = None, str(exc)
            server = Server(
                id=server_id, project_id=policy.project_of(ctx), user_id=ctx.user_id,
                name=name, hostname=sanitize_hostname(name, f"server-{server_id}"),
                description=plan.description, host=host, availability_zone=plan.zone,
                flavor_id=plan.flavor.id, image_id=plan.image.id, user_data=plan.user_data,
                meta=plan.metadata, tags=plan.tags, security_groups=plan.security_groups,
                config_drive=plan.config_drive, vm_state="building",
                task_state="scheduling" if error is None else None, power_state=0)
            session.add(server)
            for position, req in enumerate(plan.ports):
                if req.port_id:
                    session.add(Interface(port_id=req.port_id, server_id=server_id,
                                          position=position))
        if error is not None:
            self.fail(server_id, error, release=False)
            return server_id
        self._plumb(ctx, server_id, plan, str(host))
        return server_id

    def _plumb(self, ctx: Context, server_id: str, plan: Plan, host: str) -> None:
        self._set_task(server_id, "networking")
        owner = f"compute:{plan.zone}"
        try:
            for position, req in enumerate(plan.ports):
                port_id = req.port_id or self._create_port(ctx, server_id, plan, req,
                                                           position, owner)
                bound = self.net.update_port(port_id, {"binding:host_id": host,
                                                       "device_id": server_id,
                                                       "device_owner": owner})
                self.record(server_id, bound)
        except ApiError as exc:
            self.fail(server_id, f"Build of instance {server_id} aborted: {exc.message}")
            return
        self._set_task(server_id, "spawning")

    def _create_port(self, ctx: Context, server_id: str, plan: Plan, req: PortRequest,
                     position: int, owner: str) -> str:
        body: Body = {"network_id": req.network_id, "device_id": server_id,
                      "device_owner": owner}
        if req.fixed_ip:
            body["fixed_ips"] = [{"ip_address": req.fixed_ip}]
        if plan.security_group_ids is not None:
            body["security_groups"] = plan.security_group_ids
        port = self.net.create_port(ctx.token, body)
        with self.db.write() as session:
            session.add(Interface(port_id=port["id"], server_id=server_id, position=position,
                                  network_id=port["network_id"], created_port=True))
        return str(port["id"])

    def record(self, server_id: str, port: Body) -> None:
        """Store what networking answered for a bound port (the info cache)."""
        try:
            name = str(self.net.get_network(port["network_id"])["name"])
        except ApiError:
            name = ""
        with self.db.write() as session:
            iface = session.get(Interface, port["id"])
            if iface is None:
                iface = Interface(port_id=port["id"], server_id=server_id)
                session.add(iface)
            iface.network_id = port["network_id"]
            iface.network_name = name or port["network_id"]
            iface.mac_address = port.get("mac_address", "")
            iface.fixed_ips = [dict(ip) for ip in port.get("fixed_ips", [])]
            iface.port_state = port.get("status", "DOWN")
            iface.bound = True

    def _set_task(self, server_id: str, task: str | None) -> None:
        with self.db.write() as session:
            server = session.get(Server, server_id)
            if server is not None and server.vm_state == "building":
                server.task_state = task

    def fail(self, server_id: str, message: str, release: bool = True) -> None:
        """The server goes ERROR with ``message`` as its fault; its ports are released."""
        LOG.warning("server %s failed: %s", server_id, message)
        with self.db.write() as session:
            server = session.get(Server, server_id)
            if server is None:
                return
            server.vm_state, server.task_state, server.power_state = "error", None, 0
            server.host = None
            server.fault = {"code": 500, "message": message, "created": iso(utcnow()),
                            "details": ""}
            server.cleanup_pending = release
        if release:
            self.release_ports(server_id)

    def release_ports(self, server_id: str) -> bool:
        """Delete the ports compute created, unbind the given ones; True when done."""
        with self.db.read() as session:
            rows = [(i.port_id, i.created_port, i.bound) for i in
                    session.query(Interface).filter(Interface.server_id == server_id)]
        given = {port_id for port_id, created, _ in rows if not created}
        try:
            for port_id, created, bound in rows:
                if created:
                    self.net.delete_port(port_id)
                elif bound:
                    self.net.unbind_port(port_id)
            # Ports created just before a crash, before they were recorded.
            for port in self.net.ports_of(server_id):
                owner = str(port.get("device_owner", ""))
                if port["id"] not in given and owner.startswith("compute:") \
                        and owner != SHADOW_OWNER:
                    self.net.delete_port(port["id"])
        except ApiError as exc:
            LOG.warning("releasing the ports of server %s failed, will retry: %s",
                        server_id, exc.message)
            return False
        with self.db.write() as session:
            session.query(Interface).filter(Interface.server_id == server_id).delete()
            server = session.get(Server, server_id)
            if server is not None:
                server.cleanup_pending = False
        return True

