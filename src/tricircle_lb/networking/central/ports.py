"""Ports at central: addresses, MACs, security groups, binding."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.networking import ipam, policy, schemas, views
from tricircle_lb.networking.central.base import Body, CentralBase, bump, new_id
from tricircle_lb.networking.errors import invalid, not_found
from tricircle_lb.networking.models import (
    IPAllocation,
    Network,
    Port,
    Routing,
    SecurityGroup,
    Subnet,
)

_SHADOWED = ("security_groups", "allowed_address_pairs", "port_security_enabled")


class PortOps(CentralBase):
    def create_port(self, ctx: Context, req: schemas.PortCreate) -> Body:
        policy.enforce_write(ctx, "create_port")
        given = {req.model_fields[f].alias or f for f in req.model_fields_set}
        policy.enforce_attributes(ctx, "port", "create", given)
        policy.enforce_device_owner(ctx, "create", req.device_owner)
        project_id = policy.owner(ctx, "create_port", req.project_id, req.tenant_id)
        pairs = _address_pairs(req.allowed_address_pairs)
        try:
            with self.db.write() as session:
                net = self._network(session, ctx, req.network_id)
                self._check_quota(session, project_id, "port", Port)
                mac = self._mac(session, net.id, req.mac_address)
                port_security = (net.port_security_enabled if req.port_security_enabled is None
                                 else req.port_security_enabled)
                groups = self._groups(session, ctx, project_id, req.security_groups,
                                      port_security, req.device_owner)
                if pairs and not port_security:
                    raise Conflict("Port Security must be enabled in order to have allowed "
                                   "address pairs on a port.",
                                   kind="AddressPairAndPortSecurityRequired")
                row = Port(
                    id=new_id(), project_id=project_id, network_id=net.id, name=req.name,
                    description=req.description, admin_state_up=req.admin_state_up,
                    mac_address=mac, device_id=req.device_id, device_owner=req.device_owner,
                    binding_host_id=req.binding_host_id,
                    binding_vif_type=vif_type(req.binding_host_id, req.binding_profile),
                    binding_vnic_type=req.binding_vnic_type,
                    binding_profile=req.binding_profile,
                    allowed_address_pairs=[{"ip_address": str(p["ip_address"]),
                                            "mac_address": p.get("mac_address") or mac}
                                           for p in pairs],
                    port_security_enabled=port_security, security_groups=groups,
                    tags=sorted(set(req.tags)))
                session.add(row)
                session.flush()
                wanted = [f.model_dump() for f in req.fixed_ips] \
                    if req.fixed_ips is not None else None
                self._assign_ips(session, ctx, row, net, wanted)
                if row.binding_host_id:
                    self.mirrors.notify_shadows(session, net.id, net.project_id)
                session.flush()
                session.refresh(row)
                return views.port(row)
        except IntegrityError as exc:
            raise Conflict("The port's address or MAC was taken by a concurrent request; "
                           "retry.", kind="IpAddressAlreadyAllocated") from exc

    def _mac(self, session: Session, network_id: str, wanted: str | None) -> str:
        if wanted is None:
            return ipam.random_mac(session, network_id)
        mac = ipam.normalize_mac(wanted)
        if session.scalar(select(Port.id).where(Port.network_id == network_id,
                                                Port.mac_address == mac)):
            raise Conflict(f"Unable to complete operation for network {network_id}. The mac "
                           f"address {mac} is in use.", kind="MacAddressInUse")
        return mac

    def _groups(self, session: Session, ctx: Context, project_id: str,
                wanted: list[str] | None, port_security: bool, device_owner: str) -> list[str]:
        if wanted is None:
            if not port_security or device_owner.startswith("network:"):
                return []
            return [self.ensure_default_sg(session, project_id).id]
        if wanted and not port_security:
            raise BadRequest("Port has security group associated. Cannot disable port "
                             "security or IP address until security group is removed",
                             kind="PortSecurityAndIPRequiredForSecurityGroups")
        for sg_id in wanted:
            sg = session.get(SecurityGroup, sg_id)
            if sg is None or not (ctx.is_admin or sg.project_id == project_id):
                raise not_found("security_group", sg_id)
        return list(dict.fromkeys(wanted))

    def _assign_ips(self, session: Session, ctx: Context, port: Port, net: Network,
                    wanted: list[dict[str, str | None]] | None) -> None:
        """Addresses for ``port``: those asked for, or (``wanted`` None) one per IP
        version from the first subnet of that version with a free address.

        A ``subnet_id`` the caller cannot see is not found (404), as in Neutron;
        one it sees on another network is invalid input (400)."""
        subnets = list(session.scalars(select(Subnet).where(Subnet.network_id == net.id)
                                       .order_by(Subnet.created_at)))
        on_network = {s.id for s in subnets}
        for item in wanted or ():
            subnet_id = item.get("subnet_id")
            if subnet_id and subnet_id not in on_network:
                self._subnet(session, ctx, subnet_id)
        if wanted is None:
            versions = sorted({s.ip_version for s in subnets})
            picks: list[Callable[[], tuple[Subnet, str]]] = [
                functools.partial(_first_free, session,
                                  [s for s in subnets if s.ip_version == v], net.id)
                for v in versions]
        else:
            picks = [functools.partial(_requested, session, _subnet_for(subnets, net.id, item),
                                       item.get("ip_address")) for item in wanted]
        assigned: set[str] = set()
        for position, pick in enumerate(picks):
            subnet, address = pick()  # sees the allocations flushed before it
            if address in assigned:
                raise invalid(f"IP address {address} requested twice for the port")
            assigned.add(address)
            session.add(IPAllocation(port_id=port.id, subnet_id=subnet.id, ip_address=address,
                                     network_id=net.id, position=position))
            session.flush()

    def _port(self, session: Session, ctx: Context, port_id: str) -> Port:
        row = session.get(Port, port_id)
        if row is None or not policy.can_see(ctx, row.project_id):
            raise not_found("port", port_id)
        return row

    def get_port(self, ctx: Context, port_id: str) -> Body:
        with self.db.read() as session:
            return views.port(self._port(session, ctx, port_id))

    def list_ports(self, ctx: Context, params: QueryParams) -> list[Body]:
        with self.db.read() as session:
            query = select(Port)
            if not ctx.is_admin:
                query = query.where(Port.project_id == ctx.project_id)
            for key in ("network_id", "device_id"):
                values = params.getlist(key)
                if values:
                    query = query.where(getattr(Port, key).in_(values))
            return [views.port(r) for r in session.scalars(query)]

    def update_port(self, ctx: Context, port_id: str, req: schemas.PortUpdate) -> Body:
        policy.enforce_write(ctx, "update_port")
        changes = req.model_dump(exclude_unset=True, by_alias=True)
        policy.enforce_attributes(ctx, "port", "update", set(changes))
        policy.enforce_device_owner(ctx, "update", changes.get("device_owner"))
        try:
            with self.db.write() as session:
                row = self._port(session, ctx, port_id)
                before = (row.binding_host_id, row.mac_address, dict(row.binding_profile or {}))
                self._apply_port_changes(session, ctx, row, changes)
                bump(row)
                self.mirrors.notify(session, "port", row.id, row.project_id)
                after = (row.binding_host_id, row.mac_address, dict(row.binding_profile or {}))
                # Shadow ports carry what the other regions' firewalls need too: the
                # addresses and groups of remote-group rules.
                if before != after or changes.get("fixed_ips") is not None or any(
                        k in changes for k in _SHADOWED):
                    self.mirrors.notify_shadows(session, row.network_id, row.project_id)
                session.flush()
                session.refresh(row)
                return views.port(row)
        except IntegrityError as exc:
            raise Conflict("The requested address was taken by a concurrent request; retry.",
                           kind="IpAddressAlreadyAllocated") from exc

    def _apply_port_changes(self, session: Session, ctx: Context, row: Port,
                            changes: dict[str, object]) -> None:
        for key in ("name", "description", "admin_state_up", "device_id", "device_owner"):
            if changes.get(key) is not None:
                setattr(row, key, changes[key])
        if changes.get("binding:profile") is not None:
            row.binding_profile = dict(changes["binding:profile"])  # type: ignore[call-overload]
        if "binding:host_id" in changes:
            host = str(changes["binding:host_id"] or "")
            if host != row.binding_host_id:
                row.status = "DOWN"  # until the new host's agent has plugged it
            row.binding_host_id = host
            if not host:
                row.binding_profile = {}
        row.binding_vif_type = vif_type(row.binding_host_id, row.binding_profile)
        if changes.get("binding:vnic_type") is not None:
            row.binding_vnic_type = str(changes["binding:vnic_type"])
        if changes.get("mac_address") is not None and changes["mac_address"] != row.mac_address:
            if row.binding_host_id:
                raise Conflict(f"Port {row.id} is bound: its MAC address cannot change.",
                               kind="PortBound")
            row.mac_address = self._mac(session, row.network_id, str(changes["mac_address"]))
        if changes.get("port_security_enabled") is not None:
            row.port_security_enabled = bool(changes["port_security_enabled"])
        if "security_groups" in changes:
            wanted = changes["security_groups"]
            row.security_groups = self._groups(
                session, ctx, row.project_id, list(wanted) if wanted is not None else [],  # type: ignore[call-overload]
                row.port_security_enabled, row.device_owner)
        elif not row.port_security_enabled and row.security_groups:
            raise BadRequest("Port has security group associated. Cannot disable port "
                             "security or IP address until security group is removed",
                             kind="PortSecurityAndIPRequiredForSecurityGroups")
        if "allowed_address_pairs" in changes:
            pairs = _address_pairs(
                [schemas.AddressPair(**p)
                 for p in changes["allowed_address_pairs"] or []])  # type: ignore[attr-defined]
            if pairs and not row.port_security_enabled:
                raise Conflict("Port Security must be enabled in order to have allowed "
                               "address pairs on a port.",
                               kind="AddressPairAndPortSecurityRequired")
            row.allowed_address_pairs = [
                {"ip_address": str(p["ip_address"]),
                 "mac_address": p.get("mac_address") or row.mac_address} for p in pairs]
        if changes.get("fixed_ips") is not None:
            net = session.get(Network, row.network_id)
            assert net is not None
            for allocation in list(row.fixed_ips):
                session.delete(allocation)
            session.flush()
            self._assign_ips(session, ctx, row, net, list(changes["fixed_ips"]))  # type: ignore[call-overload]

    def delete_port(self, ctx: Context, port_id: str) -> None:
        policy.enforce_write(ctx, "delete_port")
        with self.db.write() as session:
            row = self._port(session, ctx, port_id)
            self.mirrors.notify(session, "port", row.id, row.project_id, deleting=True)
            if row.binding_host_id:
                self.mirrors.notify_shadows(session, row.network_id, row.project_id)
            session.execute(delete(Routing).where(Routing.top_id == row.id,
                                                  Routing.resource_type == "shadow_port"))
            session.delete(row)

    def set_port_status(self, ctx: Context, port_id: str, status: str) -> Body:
        """A host agent's word that a port is plugged (``ACTIVE``) or not."""
        policy.enforce_admin(ctx, "update_port:status")
        with self.db.write() as session:
            row = self._port(session, ctx, port_id)
            if row.status != status:
                row.status = status
                bump(row)
                self.mirrors.notify(session, "port", row.id, row.project_id)
            session.flush()
            return views.port(row)


def vif_type(host: str, profile: dict[str, object] | None) -> str:
    """``bridge`` once bound to a host whose agent gave its VTEP, else why not."""
    if not host:
        return "unbound"
    return "bridge" if (profile or {}).get("tunnel_ip") else "binding_failed"


def _subnet_for(subnets: list[Subnet], network_id: str, item: dict[str, str | None]) -> Subnet:
    subnet_id, address = item.get("subnet_id"), item.get("ip_address")
    if subnet_id:
        for s in subnets:
            if s.id == subnet_id:
                return s
        raise invalid(f"Failed to create port on network {network_id}, because fixed_ips "
                      f"included invalid subnet {subnet_id}")
    if not address:
        raise invalid("fixed_ips entries need a subnet_id or an ip_address")
    ip = ipam.parse_ip(address)
    for s in subnets:
        if ip in ipaddress.ip_network(s.cidr):
            return s
    raise BadRequest(f"IP address {address} is not a valid IP for any of the subnets on the "
                     f"specified network.", kind="InvalidIpForNetwork")


def _requested(session: Session, subnet: Subnet, address: str | None) -> tuple[Subnet, str]:
    return subnet, ipam.allocate(session, subnet, address)


def _first_free(session: Session, subnets: list[Subnet], network_id: str) -> tuple[Subnet, str]:
    for subnet in subnets:
        try:
            return subnet, ipam.allocate(session, subnet, None)
        except Conflict:
            continue
    raise Conflict(f"No more IP addresses available on network {network_id}.",
                   kind="IpAddressGenerationFailure")


def _address_pairs(pairs: list[schemas.AddressPair]) -> list[dict[str, str | None]]:
    result: list[dict[str, str | None]] = []
    for pair in pairs:
        try:
            ipaddress.ip_network(pair.ip_address, strict=False)
        except ValueError as exc:
            raise invalid(f"'{pair.ip_address}' is not a valid IP address in "
                          "allowed_address_pairs") from exc
        mac = ipam.normalize_mac(pair.mac_address) if pair.mac_address else None
        entry: dict[str, str | None] = {"ip_address": pair.ip_address, "mac_address": mac}
        if entry in result:
            raise invalid("Duplicate address detected in allowed_address_pairs")
        result.append(entry)
    return result
