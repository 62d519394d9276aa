"""``/v2/lbaas/listeners``: CRUD and stats.

Protocols HTTP, HTTPS (pass-through: HAProxy in TCP mode) and TCP. What a
listener may carry into HAProxy's configuration is checked here: header
names from a fixed set, CIDRs parsed, timeouts and limits in range.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    Description,
    Name,
    RequestBody,
    ServicesDep,
    Tags,
    authorize,
    authorize_list,
    check_quota,
    child_changed,
    ensure_mutable,
    get_scoped,
    list_response,
    owning_project,
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.api.loadbalancers import stats_of
from tricircle_lb.loadbalancer.errors import invalid_option, not_found
from tricircle_lb.loadbalancer.models import Listener, LoadBalancer, Pool, ProvisioningStatus

router = APIRouter(prefix="/v2/lbaas/listeners")

KIND = "Listener"
PROTOCOLS = ("HTTP", "HTTPS", "TCP")
# Which pool protocols may serve a listener protocol (Octavia's map, cut to ours).
POOL_PROTOCOLS = {"HTTP": {"HTTP", "PROXY", "PROXYV2"},
                  "HTTPS": {"HTTPS", "TCP", "PROXY", "PROXYV2"},
                  "TCP": {"HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2"}}
HTTP_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")
Timeout = Annotated[int, Field(ge=0, le=86400000)]
Port = Annotated[int, Field(ge=1, le=65535)]
ConnectionLimit = Annotated[int, Field(ge=-1, le=2000000000)]
Cidr = Annotated[str, Field(max_length=64)]


class ListenerCreate(RequestBody):
    loadbalancer_id: str
    protocol: str
    protocol_port: Port
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)
    connection_limit: ConnectionLimit = -1
    default_pool_id: str | None = None
    insert_headers: dict[str, str] = Field(default_factory=dict)
    timeout_client_data: Timeout = 50000
    timeout_member_connect: Timeout = 5000
    timeout_member_data: Timeout = 50000
    timeout_tcp_inspect: Timeout = 0
    allowed_cidrs: list[Cidr] | None = None
    tags: Tags = Field(default_factory=list)


class ListenerUpdate(RequestBody):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    connection_limit: ConnectionLimit | None = None
    default_pool_id: str | None = None
    insert_headers: dict[str, str] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    allowed_cidrs: list[Cidr] | None = None
    tags: Tags | None = None


class CreateRequest(RequestBody):
    listener: ListenerCreate


class UpdateRequest(RequestBody):
    listener: ListenerUpdate


def view(listener: Listener) -> dict[str, Any]:
    return {
        "id": listener.id, "name": listener.name, "description": listener.description,
        "provisioning_status": listener.provisioning_status,
        "operating_status": listener.operating_status,
        "admin_state_up": listener.admin_state_up, "project_id": listener.project_id,
        "protocol": listener.protocol, "protocol_port": listener.protocol_port,
        "connection_limit": listener.connection_limit,
        "default_tls_container_ref": None, "sni_container_refs": [],
        "default_pool_id": listener.default_pool_id,
        "l7policies": [{"id": policy.id} for policy in listener.l7policies],
        "insert_headers": dict(listener.insert_headers),
        "loadbalancers": [{"id": listener.loadbalancer_id}],
        "timeout_client_data": listener.timeout_client_data,
        "timeout_member_connect": listener.timeout_member_connect,
        "timeout_member_data": listener.timeout_member_data,
        "timeout_tcp_inspect": listener.timeout_tcp_inspect,
        "allowed_cidrs": list(listener.allowed_cidrs) or None,
        "client_authentication": "NONE", "client_ca_tls_container_ref": None,
        "client_crl_container_ref": None, "tls_ciphers": None, "tls_versions": None,
        "alpn_protocols": None, "tags": list(listener.tags), **timestamps(listener),
    }


@router.get("")
def list_listeners(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        rows = session.scalars(scoped_select(Listener, ctx)).all()
        return list_response(request, "listeners", [view(listener) for listener in rows])


@router.get("/{listener_id}")
def show_listener(listener_id: str, request: Request, ctx: CallerDep,
                  svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        return show(request, "listener",
                    view(get_scoped(session, Listener, listener_id, ctx, KIND)))


@router.get("/{listener_id}/stats")
def listener_stats(listener_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        return {"stats": stats_of(session, [listener.id])}


@router.post("", status_code=201)
def create_listener(body: CreateRequest, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    req = body.listener
    explicit = req.project_id or req.tenant_id
    owning_project(ctx, explicit)  # 403 for a non-admin naming another project
    protocol = _protocol(req.protocol)
    headers = _insert_headers(protocol, req.insert_headers)
    with svc.db.write() as session:
        lb = get_scoped(session, LoadBalancer, req.loadbalancer_id, ctx, "Load Balancer")
        if explicit and explicit != lb.project_id:
            raise invalid_option("project_id must be the load balancer's project.")
        ensure_mutable(lb)
        check_quota(session, svc, lb.project_id, "listener")
        _check_port_free(session, lb.id, req.protocol_port)
        if req.default_pool_id is not None:
            _check_default_pool(session, lb, protocol, req.default_pool_id, None)
        listener = Listener(
            loadbalancer_id=lb.id, project_id=lb.project_id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            protocol=protocol, protocol_port=req.protocol_port,
            connection_limit=req.connection_limit, default_pool_id=req.default_pool_id,
            insert_headers=headers, timeout_client_data=req.timeout_client_data,
            timeout_member_connect=req.timeout_member_connect,
            timeout_member_data=req.timeout_member_data,
            timeout_tcp_inspect=req.timeout_tcp_inspect,
            allowed_cidrs=_allowed_cidrs(lb, req.allowed_cidrs),
            operating_status=models.OperatingStatus.OFFLINE.value, tags=list(req.tags))
        session.add(listener)
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_CREATE)
        session.refresh(listener)
        return {"listener": view(listener)}


@router.put("/{listener_id}")
def update_listener(listener_id: str, body: UpdateRequest, ctx: CallerDep,
                    svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    changes = body.listener.model_dump(exclude_unset=True)
    for name in ("name", "description", "admin_state_up", "connection_limit", "tags",
                 "timeout_client_data", "timeout_member_connect", "timeout_member_data",
                 "timeout_tcp_inspect"):
        if name in changes and changes[name] is None:
            raise BadRequest(f"Invalid input for field/attribute {name}. Value: 'None'.")
    with svc.db.write() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        lb = listener.loadbalancer
        ensure_mutable(lb)
        if "insert_headers" in changes:
            changes["insert_headers"] = _insert_headers(listener.protocol,
                                                        changes["insert_headers"] or {})
        if "allowed_cidrs" in changes:
            changes["allowed_cidrs"] = _allowed_cidrs(lb, changes["allowed_cidrs"])
        if changes.get("default_pool_id") is not None:
            _check_default_pool(session, lb, listener.protocol, changes["default_pool_id"],
                                listener.id)
        for name, value in changes.items():
            setattr(listener, name, value)
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_UPDATE)
        session.refresh(listener)
        return {"listener": view(listener)}


@router.delete("/{listener_id}", status_code=204)
def delete_listener(listener_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        lb = listener.loadbalancer
        ensure_mutable(lb)
        # Its L7 policies and their rules go with it (the controller removes the rows).
        for policy in listener.l7policies:
            policy.provisioning_status = ProvisioningStatus.PENDING_DELETE.value
            for rule in policy.rules:
                rule.provisioning_status = ProvisioningStatus.PENDING_DELETE.value
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_DELETE)
    return Response(status_code=204)


def _protocol(value: str) -> str:
    if value not in PROTOCOLS:
        raise BadRequest(f"Invalid input for field/attribute protocol. Value: '{value}'. "
                         f"Value should be one of: {', '.join(PROTOCOLS)}")
    return value


def _insert_headers(protocol: str, headers: dict[str, str]) -> dict[str, str]:
    """Only HTTP listeners insert headers, and only the ones HAProxy is told how to fill."""
    if not headers:
        return {}
    unknown = [name for name in headers if name not in HTTP_HEADERS]
    if protocol != "HTTP" or unknown:
        shown = ", ".join(unknown or list(headers))
        raise invalid_option(f"{shown} is not a valid option for {protocol} protocol listener.")
    for name, value in headers.items():
        if value.lower() not in ("true", "false"):
            raise invalid_option(f"Value '{value}' of header {name} must be 'true' or 'false'.")
    return {name: value.lower() for name, value in headers.items()}


def _allowed_cidrs(lb: LoadBalancer, cidrs: list[str] | None) -> list[str]:
    if not cidrs:
        return []
    vip_version = ipaddress.ip_address(lb.vip_address).version if lb.vip_address else None
    result: list[str] = []
    for text in cidrs:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise BadRequest(f"Invalid input for field/attribute allowed_cidrs. "
                             f"Value: '{text}'. Value should be IPv4 or IPv6 CIDR format") \
                from exc
        if vip_version is not None and network.version != vip_version:
            raise invalid_option(f"CIDR {text} IP version incompatible with VIP "
                                 f"{lb.vip_address} IP version.")
        if str(network) not in result:
            result.append(str(network))
    return result


def _check_port_free(session: Session, lb_id: str, port: int) -> None:
    taken = session.scalar(select(Listener.id).where(Listener.loadbalancer_id == lb_id,
                                                     Listener.protocol_port == port))
    if taken is not None:
        raise Conflict(f"Another Listener on this Load Balancer is already using "
                       f"protocol_port {port}")


def _check_default_pool(session: Session, lb: LoadBalancer, protocol: str, pool_id: str,
                        listener_id: str | None) -> None:
    pool = session.get(Pool, pool_id)
    if (pool is None or pool.loadbalancer_id != lb.id
            or pool.provisioning_status in (ProvisioningStatus.PENDING_DELETE,
                                            ProvisioningStatus.DELETED)):
        raise not_found("Pool", pool_id)
    if pool.protocol not in POOL_PROTOCOLS[protocol]:
        raise invalid_option(f"The pool protocol '{pool.protocol}' is invalid while the "
                             f"listener protocol is '{protocol}'.")
    if any(other.id != listener_id for other in pool.listeners):
        raise Conflict(f"Pool {pool_id} is already in use by another listener.")
