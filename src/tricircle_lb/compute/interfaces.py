"""Interface attach and detach (``/servers/{id}/os-interface``).

Attaching binds a port to the server's host with ``device_id`` = the server
(a port on ``net_id`` is first created as the caller, and then belongs to
compute); detaching unbinds a given port and deletes a created one. This is
what ``openstack server add port|network`` and ``server remove port`` do, and
how the load-balancer service plugs an amphora into a member's network.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ApiError, BadRequest, Conflict, NotFound
from tricircle_lb.compute import policy, views
from tricircle_lb.compute.build import Builder
from tricircle_lb.compute.microversions import Version
from tricircle_lb.compute.models import Interface, Server
from tricircle_lb.compute.network_client import NetworkClient
from tricircle_lb.compute.schemas import InterfaceAttachment
from tricircle_lb.db import Database

Body = dict[str, Any]
ATTACHABLE = ("active", "stopped")


class Interfaces:
    def __init__(self, db: Database, net: NetworkClient, builder: Builder) -> None:
        self.db = db
        self.net = net
        self.builder = builder

    def _server(self, ctx: Context, server_id: str) -> Server:
        with self.db.read() as session:
            return policy.check_server(ctx, session.get(Server, server_id), server_id)

    def attached(self, ctx: Context, server_id: str, version: Version) -> list[Body]:
        self._server(ctx, server_id)
        with self.db.read() as session:
            rows = session.scalars(select(Interface).where(Interface.server_id == server_id,
                                                           Interface.bound)
                                   .order_by(Interface.position))
            return [views.interface(i, version) for i in rows]

    def show(self, ctx: Context, server_id: str, port_id: str, version: Version) -> Body:
        for item in self.attached(ctx, server_id, version):
            if item["port_id"] == port_id:
                return item
        raise NotFound(f"Port {port_id} is not attached", kind="PortNotFound")

    def attach(self, ctx: Context, server_id: str, req: InterfaceAttachment,
               version: Version) -> Body:
        policy.enforce_write(ctx, "os_compute_api:os-attach-interfaces:create")
        server = self._server(ctx, server_id)
        if server.vm_state not in ATTACHABLE or server.task_state is not None:
            raise Conflict(f"Cannot 'attach_interface' instance {server_id} while it is in "
                           f"vm_state {server.vm_state}")
        if req.port_id and req.net_id:
            raise BadRequest("Must not input both network_id and port_id")
        if req.fixed_ips and not req.net_id:
            raise BadRequest("Must input network_id when request IP address")
        owner = f"compute:{server.availability_zone}"
        created = False
        if req.port_id:
            try:
                port = self.net.get_port(req.port_id, ctx.token)
            except NotFound as exc:
                raise NotFound(f"Port {req.port_id} could not be found.",
                               kind="PortNotFound") from exc
            if port.get("device_id") or port.get("binding:host_id"):
                raise Conflict(f"Port {req.port_id} is still in use.")
            port_id = req.port_id
        elif req.net_id:
            body: Body = {"network_id": req.net_id, "device_id": server_id,
                          "device_owner": owner}
            if req.fixed_ips:
                body["fixed_ips"] = [{"ip_address": ip.ip_address} for ip in req.fixed_ips]
            try:
                port = self.net.create_port(ctx.token, body)
            except NotFound as exc:
                raise NotFound(f"Network {req.net_id} could not be found.",
                               kind="NetworkNotFound") from exc
            port_id, created = str(port["id"]), True
        else:
            raise BadRequest("A port_id or a net_id is required to attach an interface.")
        with self.db.write() as session:
            position = len(list(session.scalars(select(Interface.port_id).where(
                Interface.server_id == server_id))))
            session.add(Interface(port_id=port_id, server_id=server_id, position=position,
                                  network_id=port["network_id"], created_port=created))
        try:
            bound = self.net.update_port(port_id, {"binding:host_id": server.host or "",
                                                   "device_id": server_id,
                                                   "device_owner": owner})
        except ApiError:
            self._release(port_id, created, bound=False)
            raise
        self.builder.record(server_id, bound)
        return self.show(ctx, server_id, port_id, version)

    def detach(self, ctx: Context, server_id: str, port_id: str) -> None:
        policy.enforce_write(ctx, "os_compute_api:os-attach-interfaces:delete")
        server = self._server(ctx, server_id)
        if server.task_state is not None:
            raise Conflict(f"Cannot 'detach_interface' instance {server_id} while it is in "
                           f"task_state {server.task_state}")
        with self.db.read() as session:
            iface = session.get(Interface, port_id)
            if iface is None or iface.server_id != server_id:
                raise NotFound(f"Port {port_id} is not attached", kind="PortNotFound")
            created, bound = iface.created_port, iface.bound
        self._release(port_id, created, bound)

    def _release(self, port_id: str, created: bool, bound: bool) -> None:
        if created:
            self.net.delete_port(port_id)
        elif bound:
            self.net.unbind_port(port_id)
        with self.db.write() as session:
            iface = session.get(Interface, port_id)
            if iface is not None:
                session.delete(iface)
