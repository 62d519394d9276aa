"""``/v2/lbaas/pools/{pool_id}/members``: Octavia's members, and the batch ``PUT``
that replaces a pool's whole member list.

A member's subnet is looked up through the region's networking before
anything is written, so a subnet of a ``local`` network of another region is
refused there, and networking's words (``network not located in current
region``) reach the caller unchanged in a 400. Without ``subnet_id`` a member
is on the load balancer's VIP subnet, which is recorded so the controller
knows which network the member is on. Address rules: ``_member_checks``.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api import _member_checks as checks
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    Name,
    RequestBody,
    Services,
    ServicesDep,
    Tags,
    authorize,
    check_quota,
    child_changed,
    ensure_mutable,
    get_scoped,
    list_response,
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.drivers.network import NetworkError, NetworkNotFound
from tricircle_lb.loadbalancer.errors import from_network, invalid_option, not_found

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]
Port = Annotated[int, Field(ge=1, le=65535)]
Weight = Annotated[int, Field(ge=0, le=256)]


class MemberCreate(RequestBody):
    address: str = Field(max_length=64)
    protocol_port: Port
    name: Name = ""
    weight: Weight = 1
    backup: bool = False
    admin_state_up: bool = True
    subnet_id: str | None = Field(None, max_length=36)
    monitor_address: str | None = Field(None, max_length=64)
    monitor_port: Port | None = None
    # Accepted for compatibility; a member always belongs to its pool's project.
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    request_sriov: bool = False
    tags: Tags = Field(default_factory=list)


class MemberUpdate(RequestBody):
    name: Name | None = None
    weight: Weight | None = None
    backup: bool | None = None
    admin_state_up: bool | None = None
    monitor_address: str | None = Field(None, max_length=64)
    monitor_port: Port | None = None
    tags: Tags | None = None


class MemberCreateBody(RequestBody):
    member: MemberCreate


class MemberUpdateBody(RequestBody):
    member: MemberUpdate


class MembersBatchBody(RequestBody):
    members: list[MemberCreate]


# What the handlers change on an existing member, in a create or a batch entry.
_UPDATABLE = ("name", "weight", "backup", "admin_state_up", "monitor_address",
              "monitor_port", "tags")


@dataclass(frozen=True)
class _Vip:
    """What member validation needs of the pool's load balancer."""

    address: str | None
    subnet_id: str | None
    pool_protocol: str
    all_addresses: tuple[str, ...]


def member_view(member: models.Member) -> Body:
    return {
        "id": member.id, "project_id": member.project_id, "name": member.name,
        "admin_state_up": member.admin_state_up,
        "provisioning_status": member.provisioning_status,
        "operating_status": member.operating_status,
        "address": member.address, "protocol_port": member.protocol_port,
        "weight": member.weight, "backup": member.backup, "subnet_id": member.subnet_id,
        "monitor_address": member.monitor_address, "monitor_port": member.monitor_port,
        "vnic_type": "normal", "tags": list(member.tags or []),
        **timestamps(member),
    }


def _pool(session: Session, pool_id: str, ctx: Context) -> models.Pool:
    return get_scoped(session, models.Pool, pool_id, ctx, "Pool")


def _member(session: Session, pool: models.Pool, member_id: str, ctx: Context) -> models.Member:
    member = get_scoped(session, models.Member, member_id, ctx, "Member")
    if member.pool_id != pool.id:
        raise not_found("Member", member_id)
    return member


def _vip_of(svc: Services, pool_id: str, ctx: Context) -> _Vip:
    with svc.db.read() as session:
        pool = _pool(session, pool_id, ctx)
        lb = pool.loadbalancer
        extra = tuple(str(v.get("ip_address")) for v in lb.additional_vips or []
                      if v.get("ip_address"))
        return _Vip(lb.vip_address, lb.vip_subnet_id, pool.protocol,
                    (*((lb.vip_address,) if lb.vip_address else ()), *extra))


def _validated(req: MemberCreate, vip: _Vip, svc: Services, seen: dict[str, int],
               token: str) -> MemberCreate:
    """The request (addresses as given, as Octavia keeps them) and its subnet, or 400/503.

    The subnet is looked up with the caller's ``token``: a subnet the caller cannot
    see (another project's) does not exist for them. ``seen`` caches the IP version
    of subnets already looked up (batch calls)."""
    if req.request_sriov:
        # Octavia's answer when the flavor does not allow_member_sriov, which no flavor
        # here can (decision 081).
        raise BadRequest("The load balancer flavor does not allow SR-IOV member ports.")
    management = svc.config.reserved_member_cidrs
    address = checks.check_member_address(req.address, management)
    monitor = checks.check_monitor_address(req.monitor_address, management)
    subnet_id = req.subnet_id or vip.subnet_id
    if req.subnet_id is not None and req.subnet_id not in seen:
        try:
            seen[req.subnet_id] = svc.network.get_subnet(req.subnet_id,
                                                         token=token).ip_version
        except NetworkNotFound:
            raise not_found("Subnet", req.subnet_id) from None
        except NetworkError as exc:
            raise from_network(exc, f"Subnet {req.subnet_id}") from exc
    checks.check_lvs_family(address, vip.pool_protocol, vip.all_addresses)
    return req.model_copy(update={"address": address, "monitor_address": monitor,
                                  "subnet_id": subnet_id})


def _new_member(pool: models.Pool, req: MemberCreate) -> models.Member:
    return models.Member(
        project_id=pool.project_id, pool_id=pool.id, name=req.name, address=req.address,
        protocol_port=req.protocol_port, weight=req.weight, backup=req.backup,
        admin_state_up=req.admin_state_up, subnet_id=req.subnet_id,
        monitor_address=req.monitor_address, monitor_port=req.monitor_port,
        tags=list(req.tags), provisioning_status=Status.PENDING_CREATE.value,
        operating_status=(models.OperatingStatus.NO_MONITOR.value if req.admin_state_up
                          else models.OperatingStatus.OFFLINE.value))


def _duplicate(address: str, port: int) -> Conflict:
    return Conflict(f"Another member on this pool is already using ip {address} "
                    f"on protocol_port {port}")


@router.get("/v2/lbaas/pools/{pool_id}/members", name="list_members")
def list_members(pool_id: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        pool = _pool(session, pool_id, ctx)
        query = scoped_select(models.Member, ctx).where(models.Member.pool_id == pool.id)
        return list_response(request, "members",
                             [member_view(m) for m in session.scalars(query)])


@router.get("/v2/lbaas/pools/{pool_id}/members/{member_id}", name="show_member")
def show_member(pool_id: str, member_id: str, request: Request, ctx: CallerDep,
                svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        member = _member(session, _pool(session, pool_id, ctx), member_id, ctx)
        return show(request, "member", member_view(member))


@router.post("/v2/lbaas/pools/{pool_id}/members", status_code=201, name="create_member")
def create_member(pool_id: str, body: MemberCreateBody, ctx: CallerDep,
                  svc: ServicesDep) -> Body:
    authorize(ctx, Action.WRITE)
    req = _validated(body.member, _vip_of(svc, pool_id, ctx), svc, {}, ctx.token)
    with svc.db.write() as session:
        pool = _pool(session, pool_id, ctx)
        if any(m.address == req.address and m.protocol_port == req.protocol_port
               for m in pool.members):
            raise _duplicate(req.address, req.protocol_port)
        check_quota(session, svc, pool.project_id, "member")
        ensure_mutable(pool.loadbalancer)
        member = _new_member(pool, req)
        session.add(member)
        child_changed(session, svc, pool.loadbalancer, member, Status.PENDING_CREATE)
        return {"member": member_view(member)}


@router.put("/v2/lbaas/pools/{pool_id}/members/{member_id}", name="update_member")
def update_member(pool_id: str, member_id: str, body: MemberUpdateBody, ctx: CallerDep,
                  svc: ServicesDep) -> Body:
    authorize(ctx, Action.WRITE)
    req = body.member
    with svc.db.write() as session:
        pool = _pool(session, pool_id, ctx)
        member = _member(session, pool, member_id, ctx)
        changes = {f: getattr(req, f) for f in req.model_fields_set}
        if "monitor_address" in changes:
            changes["monitor_address"] = checks.check_monitor_address(
                req.monitor_address, svc.config.reserved_member_cidrs)
        ensure_mutable(pool.loadbalancer)
        _apply(member, changes)
        child_changed(session, svc, pool.loadbalancer, member, Status.PENDING_UPDATE)
        return {"member": member_view(member)}


def _apply(member: models.Member, changes: dict[str, Any]) -> None:
    """Set what was given; ``null`` clears only the monitor fields and ``name``."""
    for field, value in changes.items():
        if value is None and field not in ("monitor_address", "monitor_port", "name"):
            continue
        if field == "name" and value is None:
            value = ""
        setattr(member, field, list(value) if field == "tags" else value)


@router.delete("/v2/lbaas/pools/{pool_id}/members/{member_id}", status_code=204,
               name="delete_member")
def delete_member(pool_id: str, member_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        pool = _pool(session, pool_id, ctx)
        member = _member(session, pool, member_id, ctx)
        ensure_mutable(pool.loadbalancer)
        child_changed(session, svc, pool.loadbalancer, member, Status.PENDING_DELETE)
    return Response(status_code=204)


@router.put("/v2/lbaas/pools/{pool_id}/members", status_code=202, name="batch_update_members")
def batch_update_members(pool_id: str, body: MembersBatchBody, ctx: CallerDep,
                         svc: ServicesDep,
                         additive_only: Annotated[bool, Query()] = False) -> Response:
    """Make the pool's members the ones listed: new ones are created, listed
    ones updated, the rest deleted (kept with ``additive_only=true``)."""
    authorize(ctx, Action.WRITE)
    vip = _vip_of(svc, pool_id, ctx)
    subnets: dict[str, int] = {}
    # (address, port) -> (the validated entry, the fields its caller gave)
    wanted: dict[tuple[str, int], tuple[MemberCreate, set[str]]] = {}
    for entry in body.members:
        req = _validated(entry, vip, svc, subnets, ctx.token)
        key = (req.address, req.protocol_port)
        if key in wanted:
            raise invalid_option("Member must be updated only once in the same request.")
        wanted[key] = (req, entry.model_fields_set)
    with svc.db.write() as session:
        pool = _pool(session, pool_id, ctx)
        existing = {(m.address, m.protocol_port): m for m in pool.members}
        created = [req for key, (req, _) in wanted.items() if key not in existing]
        removed = [] if additive_only else [m for k, m in existing.items() if k not in wanted]
        if not wanted and not removed:
            return Response(status_code=202)
        growth = len(created) - len(removed)
        if growth > 0:
            check_quota(session, svc, pool.project_id, "member", adding=growth)
        ensure_mutable(pool.loadbalancer)
        for key, (req, given) in wanted.items():
            if key in existing:
                _apply(existing[key], {f: getattr(req, f) for f in _UPDATABLE if f in given})
                existing[key].provisioning_status = Status.PENDING_UPDATE.value
        for req in created:
            session.add(_new_member(pool, req))
        for member in removed:
            member.provisioning_status = Status.PENDING_DELETE.value
        # As in Octavia, the pool is updating while its members change.
        child_changed(session, svc, pool.loadbalancer, pool, Status.PENDING_UPDATE)
    return Response(status_code=202)
