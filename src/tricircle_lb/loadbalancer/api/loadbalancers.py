"""``/v2/lbaas/loadbalancers``: CRUD, cascade delete, status tree, stats, failover.

The VIP port is made synchronously at central (through the network driver)
before the row is written, and deleted again if the write fails, so a 201
always carries the VIP address and a failed create leaves no port behind.
The flavor, if any, gives the provider and the topology (SINGLE or
ACTIVE_STANDBY) the controller builds; without one, the configuration's
``default_topology``.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api.availability_zones import check_zone
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    Description,
    IpAddress,
    Name,
    RequestBody,
    Services,
    ServicesDep,
    Tags,
    authorize,
    authorize_list,
    check_quota,
    ensure_mutable,
    get_scoped,
    list_response,
    owning_project,
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.api.flavors import resolve_flavor
from tricircle_lb.loadbalancer.controller import handoff
from tricircle_lb.loadbalancer.drivers.network import NetworkError, Port
from tricircle_lb.loadbalancer.errors import from_network, invalid_option, unsupported_option
from tricircle_lb.loadbalancer.models import LoadBalancer, ProvisioningStatus

router = APIRouter(prefix="/v2/lbaas/loadbalancers")
LOG = logging.getLogger(__name__)
T = TypeVar("T")

KIND = "Load Balancer"
Uuid = str


class AdditionalVip(RequestBody):
    subnet_id: Uuid
    ip_address: IpAddress | None = None


class LoadBalancerCreate(RequestBody):
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    project_id: str | None = Field(default=None, max_length=64)
    # Older Octavia releases took the Neutron name too.
    tenant_id: str | None = Field(default=None, max_length=64)
    vip_subnet_id: Uuid | None = None
    vip_network_id: Uuid | None = None
    vip_port_id: Uuid | None = None
    vip_address: IpAddress | None = None
    vip_qos_policy_id: Uuid | None = None
    provider: str | None = None
    flavor_id: Uuid | None = None
    availability_zone: str | None = Field(default=None, max_length=255)
    additional_vips: list[AdditionalVip] = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)


class LoadBalancerUpdate(RequestBody):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    vip_qos_policy_id: Uuid | None = None
    tags: Tags | None = None


class CreateRequest(RequestBody):
    loadbalancer: LoadBalancerCreate


class UpdateRequest(RequestBody):
    loadbalancer: LoadBalancerUpdate


def view(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "id": lb.id, "name": lb.name, "description": lb.description,
        "provisioning_status": lb.provisioning_status,
        "operating_status": lb.operating_status, "admin_state_up": lb.admin_state_up,
        "project_id": lb.project_id, **timestamps(lb),
        "vip_address": lb.vip_address, "vip_port_id": lb.vip_port_id,
        "vip_subnet_id": lb.vip_subnet_id, "vip_network_id": lb.vip_network_id,
        "vip_qos_policy_id": lb.vip_qos_policy_id,
        "additional_vips": [dict(v) for v in lb.additional_vips or []],
        "listeners": [{"id": listener.id} for listener in lb.listeners],
        "pools": [{"id": pool.id} for pool in lb.pools],
        "provider": lb.provider, "flavor_id": lb.flavor_id,
        "availability_zone": lb.availability_zone, "tags": list(lb.tags),
    }


@router.get("")
def list_loadbalancers(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        rows = session.scalars(scoped_select(LoadBalancer, ctx)).all()
        return list_response(request, "loadbalancers", [view(lb) for lb in rows])


@router.get("/{lb_id}")
def show_loadbalancer(lb_id: str, request: Request, ctx: CallerDep,
                      svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        return show(request, "loadbalancer", view(get_scoped(session, LoadBalancer, lb_id,
                                                             ctx, KIND)))


@router.post("", status_code=201)
def create_loadbalancer(body: CreateRequest, request: Request, ctx: CallerDep,
                        svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    req = body.loadbalancer
    project_id = owning_project(ctx, req.project_id or req.tenant_id)
    _check_placement(svc, req)
    if req.vip_qos_policy_id:
        raise _no_qos()
    if req.additional_vips:
        # Octavia's amphora plugs them; the amphorae here carry one VIP (decision 081).
        raise unsupported_option("additional_vips: the amphorae of this deployment carry "
                                 "one VIP")
    with svc.db.read() as session:
        if req.availability_zone is not None:
            check_zone(session, req.availability_zone, svc.config.availability_zone)
        resolve_flavor(session, req.flavor_id, req.provider, svc.config.default_topology)
        check_quota(session, svc, project_id, "loadbalancer")
    lb_id = str(uuid.uuid4())
    port = _allocate_vip(svc, req, lb_id, project_id, ctx.token)
    try:
        with svc.db.write() as session:
            # Again in the writing transaction: the flavor may have changed meanwhile.
            provider, topology = resolve_flavor(session, req.flavor_id, req.provider,
                                                svc.config.default_topology)
            check_quota(session, svc, project_id, "loadbalancer")
            lb = LoadBalancer(
                id=lb_id, project_id=project_id, name=req.name, description=req.description,
                admin_state_up=req.admin_state_up,
                provisioning_status=ProvisioningStatus.PENDING_CREATE.value,
                operating_status=models.OperatingStatus.OFFLINE.value,
                vip_address=port.ip_address, vip_port_id=port.id,
                vip_subnet_id=port.fixed_ips[0].subnet_id if port.fixed_ips else None,
                vip_network_id=port.network_id, vip_qos_policy_id=req.vip_qos_policy_id,
                vip_port_owned=not req.vip_port_id,
                provider=provider, flavor_id=req.flavor_id, topology=topology,
                availability_zone=req.availability_zone, tags=list(req.tags))
            session.add(lb)
            session.flush()
            handoff.create_loadbalancer(session, svc.queue, lb_id, project_id)
            session.refresh(lb)
            result = view(lb)
    except BaseException:
        if not req.vip_port_id:
            _release_vip(svc, port.id)
        raise
    return {"loadbalancer": result}


@router.put("/{lb_id}")
def update_loadbalancer(lb_id: str, body: UpdateRequest, ctx: CallerDep,
                        svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    changes = body.loadbalancer.model_dump(exclude_unset=True)
    with svc.db.write() as session:
        lb = get_scoped(session, LoadBalancer, lb_id, ctx, KIND)
        if "vip_qos_policy_id" in changes:
            raise _no_qos()
        ensure_mutable(lb)
        for name, value in changes.items():
            if value is None and name in ("name", "description"):
                value = ""  # null clears them, as in Octavia
            elif value is None and name in ("admin_state_up", "tags"):
                raise BadRequest(f"Invalid input for field/attribute {name}. Value: 'None'.")
            setattr(lb, name, value)
        lb.provisioning_status = ProvisioningStatus.PENDING_UPDATE.value
        session.flush()
        handoff.apply(session, svc.queue, lb.id, lb.project_id)
        session.refresh(lb)
        return {"loadbalancer": view(lb)}


@router.delete("/{lb_id}", status_code=204)
def delete_loadbalancer(lb_id: str, request: Request, ctx: CallerDep,
                        svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    cascade = request.query_params.get("cascade", "false").lower() in ("true", "1")
    with svc.db.write() as session:
        lb = get_scoped(session, LoadBalancer, lb_id, ctx, KIND)
        ensure_mutable(lb)
        children = [*lb.listeners, *lb.pools]
        if children and not cascade:
            raise invalid_option(f"Cannot delete Load Balancer {lb_id} - it has children")
        pending = ProvisioningStatus.PENDING_DELETE.value
        for obj in _descendants(lb):
            obj.provisioning_status = pending
        lb.provisioning_status = pending
        session.flush()
        handoff.delete_loadbalancer(session, svc.queue, lb.id, lb.project_id)
    return Response(status_code=204)


@router.put("/{lb_id}/failover", status_code=202)
def failover_loadbalancer(lb_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.ADMIN)
    with svc.db.write() as session:
        lb = get_scoped(session, LoadBalancer, lb_id, ctx, KIND)
        ensure_mutable(lb)
        lb.provisioning_status = ProvisioningStatus.PENDING_UPDATE.value
        session.flush()
        handoff.failover_loadbalancer(session, svc.queue, lb.id, lb.project_id)
    return Response(status_code=202)


@router.get("/{lb_id}/status")
def status_tree(lb_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        lb = get_scoped(session, LoadBalancer, lb_id, ctx, KIND)
        return {"statuses": {"loadbalancer": {
            **_status(lb), "listeners": [_listener_status(listener)
                                         for listener in lb.listeners]}}}


@router.get("/{lb_id}/stats")
def loadbalancer_stats(lb_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        lb = get_scoped(session, LoadBalancer, lb_id, ctx, KIND)
        return {"stats": stats_of(session, [listener.id for listener in lb.listeners])}


def stats_of(session: Session, listener_ids: list[str]) -> dict[str, int]:
    """Counters summed over the listeners' amphorae (zeros before any heartbeat)."""
    totals = dict.fromkeys(("bytes_in", "bytes_out", "active_connections",
                            "total_connections", "request_errors"), 0)
    if not listener_ids:
        return totals
    rows = session.scalars(select(models.ListenerStatistics).where(
        models.ListenerStatistics.listener_id.in_(listener_ids))).all()
    for row in rows:
        for name in totals:
            totals[name] += int(getattr(row, name))
    return totals


def _descendants(lb: LoadBalancer) -> list[Any]:
    found: list[Any] = []
    for listener in lb.listeners:
        found.append(listener)
        for policy in listener.l7policies:
            found += [policy, *policy.rules]
    for pool in lb.pools:
        found += [pool, *pool.members]
        if pool.healthmonitor is not None:
            found.append(pool.healthmonitor)
    return found


def _status(obj: Any) -> dict[str, Any]:
    return {"id": obj.id, "name": obj.name, "operating_status": obj.operating_status,
            "provisioning_status": obj.provisioning_status}


def _listener_status(listener: models.Listener) -> dict[str, Any]:
    pools: list[models.Pool] = []
    for pool in [listener.default_pool, *(p.redirect_pool for p in listener.l7policies)]:
        if pool is not None and pool not in pools:
            pools.append(pool)
    return {**_status(listener), "pools": [_pool_status(pool) for pool in pools]}


def _pool_status(pool: models.Pool) -> dict[str, Any]:
    result = {**_status(pool), "members": [
        {**_status(m), "address": m.address, "protocol_port": m.protocol_port}
        for m in pool.members]}
    if pool.healthmonitor is not None:
        result["health_monitor"] = {**_status(pool.healthmonitor),
                                    "type": pool.healthmonitor.type}
    return result


# Octavia's answer when networking has no QoS extension, as here: a policy given
# is refused, never stored and ignored.
def _no_qos() -> BadRequest:
    return BadRequest("Validation failure: VIP QoS policy is not allowed in this deployment.")


def _check_placement(svc: Services, req: LoadBalancerCreate) -> None:
    if not (req.vip_subnet_id or req.vip_network_id or req.vip_port_id):
        raise invalid_option("VIP must contain one of: vip_port_id, vip_network_id, "
                             "vip_subnet_id.")


def _allocate_vip(svc: Services, req: LoadBalancerCreate, lb_id: str, project_id: str,
                  token: str) -> Port:
    """The VIP port: the one given, or a new one at central on the subnet/network asked for.

    Every id is resolved with the caller's ``token``: what the caller cannot see does
    not exist for them (Octavia validates with the user's context), and a port given
    as the VIP must not be in use by a device already."""
    net = svc.network
    address = req.vip_address
    try:
        if req.vip_port_id:
            try:
                port = net.get_port(req.vip_port_id, token=token)
            except NetworkError as exc:
                raise from_network(exc, f"Port {req.vip_port_id}") from exc
            if port.device_id:
                raise invalid_option(f"Port {port.id} is already used by device "
                                     f"{port.device_id} ")
            if not port.fixed_ips:
                raise invalid_option(f"Port {port.id} has no fixed IP address.")
            return port
        subnet = None
        if req.vip_subnet_id:
            subnet = _lookup(lambda: net.get_subnet(str(req.vip_subnet_id), token=token),
                             f"Subnet {req.vip_subnet_id}")
        network_id = subnet.network_id if subnet is not None else str(req.vip_network_id)
        if req.vip_network_id:
            network = _lookup(lambda: net.get_network(network_id, token=token),
                              f"Network {network_id}")
            if subnet is not None and subnet.network_id != network.id:
                raise invalid_option(f"Subnet {subnet.id} is not on network {network.id}.")
        if subnet is not None and address is not None and \
                ipaddress.ip_address(address) not in ipaddress.ip_network(subnet.cidr):
            raise invalid_option(f"VIP address {address} is not on subnet {subnet.id}.")
        return net.create_vip_port(name=f"octavia-lb-{lb_id}", project_id=project_id,
                                   network_id=network_id,
                                   subnet_id=subnet.id if subnet is not None else None,
                                   ip_address=address)
    except NetworkError as exc:
        raise from_network(exc) from exc


def _lookup(call: Callable[[], T], what: str) -> T:
    try:
        return call()
    except NetworkError as exc:
        raise from_network(exc, what) from exc


def _release_vip(svc: Services, port_id: str) -> None:
    try:
        svc.network.delete_port(port_id)
    except NetworkError:
        # Named octavia-lb-<id>, the port can still be found and removed by hand.
        LOG.exception("could not release VIP port %s of a failed create", port_id)
