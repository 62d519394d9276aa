"""``/v2/lbaas/l7policies``: Octavia's L7 policies of HTTP and TERMINATED_HTTPS
listeners (others: the amphora driver's 501; PROMETHEUS: no children).

Actions REDIRECT_TO_POOL (a pool of the same load balancer that the listener
can carry), REDIRECT_TO_URL and REDIRECT_PREFIX (an absolute http/https URL,
with ``redirect_http_code`` 301/302/303/307/308, 302 by default) and REJECT.
The redirect attributes are reconciled with the action as Octavia's
``sanitize_l7policy_api_args`` and its repository's update do (:func:`sanitize`).

Positions are 1-based and contiguous per listener, as in Octavia: a policy
created or moved to position *p* goes before the one that held *p*, a
position past the end means last, and the rest are renumbered. A policy on
its way out (``PENDING_DELETE``) holds no position in that numbering.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api import _pool_checks
from tricircle_lb.loadbalancer.api._l7_checks import valid_url
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
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.errors import not_found, unsupported_option

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]

PolicyAction = Literal["REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT"]
Position = Annotated[int, Field(ge=1, le=2147483647)]
RedirectCode = Literal[301, 302, 303, 307, 308]
Url = Annotated[str, Field(max_length=2048), AfterValidator(valid_url)]
L7_PROTOCOLS = ("HTTP", "TERMINATED_HTTPS")
# What each action clears (Octavia's L7PolicyRepository.update).
CLEARED = {
    "REJECT": ("redirect_url", "redirect_pool_id", "redirect_prefix", "redirect_http_code"),
    "REDIRECT_TO_URL": ("redirect_pool_id", "redirect_prefix"),
    "REDIRECT_TO_POOL": ("redirect_url", "redirect_prefix", "redirect_http_code"),
    "REDIRECT_PREFIX": ("redirect_url", "redirect_pool_id"),
}
REDIRECT_FIELDS = ("redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code")


class PolicyCreate(RequestBody):
    listener_id: str = Field(max_length=36)
    action: PolicyAction
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    position: Position | None = None
    redirect_pool_id: str | None = Field(None, max_length=36)
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    tags: Tags = Field(default_factory=list)


class PolicyUpdate(RequestBody):
    action: PolicyAction | None = None
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    position: Position | None = None
    redirect_pool_id: str | None = Field(None, max_length=36)
    redirect_url: Url | None = None
    redirect_prefix: Url | None = None
    redirect_http_code: RedirectCode | None = None
    tags: Tags | None = None


class PolicyCreateBody(RequestBody):
    l7policy: PolicyCreate


class PolicyUpdateBody(RequestBody):
    l7policy: PolicyUpdate


def policy_view(policy: models.L7Policy) -> Body:
    return {
        "id": policy.id, "project_id": policy.project_id, "name": policy.name,
        "description": policy.description, "admin_state_up": policy.admin_state_up,
        "provisioning_status": policy.provisioning_status,
        "operating_status": policy.operating_status, "listener_id": policy.listener_id,
        "action": policy.action, "position": policy.position,
        "redirect_pool_id": policy.redirect_pool_id, "redirect_url": policy.redirect_url,
        "redirect_prefix": policy.redirect_prefix,
        "redirect_http_code": policy.redirect_http_code,
        "rules": [{"id": r.id} for r in policy.rules], "tags": list(policy.tags or []),
        **timestamps(policy),
    }


def _args(why: str) -> BadRequest:
    return BadRequest(f"Invalid L7 Policy arguments: {why}")


def sanitize(given: dict[str, Any]) -> dict[str, Any]:
    """Octavia's ``sanitize_l7policy_api_args`` on the attributes a request gave
    (``action`` and the redirect ones): the action they amount to and the
    attributes to store."""
    d = dict(given)
    action = d.get("action")
    if action == "REJECT":
        d.update(redirect_url=None, redirect_pool_id=None)
    elif action == "REDIRECT_TO_URL":
        if not d.get("redirect_url"):
            raise _args("redirect_url must not be None")
        d["redirect_pool_id"] = None
    elif action == "REDIRECT_TO_POOL":
        if not d.get("redirect_pool_id"):
            raise _args("redirect_pool_id or redirect_pool must not be None")
        d["redirect_url"] = None
    elif action == "REDIRECT_PREFIX" and not d.get("redirect_prefix"):
        raise _args("redirect_prefix must not be None")
    if d.get("redirect_pool_id") and (d.get("redirect_url") or d.get("redirect_prefix")):
        raise _args("Cannot specify redirect_pool_id and redirect_url or redirect_prefix at "
                    "the same time")
    if d.get("redirect_pool_id"):
        d.update(action="REDIRECT_TO_POOL", redirect_url=None, redirect_prefix=None,
                 redirect_http_code=None)
    if d.get("redirect_url"):
        d.update(action="REDIRECT_TO_URL", redirect_pool_id=None, redirect_prefix=None)
        d["redirect_http_code"] = d.get("redirect_http_code") or 302
    if d.get("redirect_prefix"):
        d.update(action="REDIRECT_PREFIX", redirect_pool_id=None, redirect_url=None)
        d["redirect_http_code"] = d.get("redirect_http_code") or 302
    if d.get("action"):
        for field in CLEARED[d["action"]]:
            d[field] = None
    return d


def _check_listener(listener: models.Listener) -> None:
    if listener.protocol == "PROMETHEUS":
        raise _pool_checks.no_children(listener.protocol)
    if listener.protocol not in L7_PROTOCOLS:
        raise unsupported_option(f"{listener.protocol} protocol listeners do not support L7 "
                                 f"policies")


def _check_pool(session: Session, ctx: Context, listener: models.Listener,
                pool_id: str | None) -> None:
    if pool_id is None:
        return
    # As Octavia's repository checks it: a pool of the listener's load balancer (and
    # so of its project), else 404 — another project's pool is not named as such.
    pool = session.get(models.Pool, pool_id)
    if (pool is None or pool.loadbalancer_id != listener.loadbalancer_id
            or pool.provisioning_status in (Status.PENDING_DELETE, Status.DELETED)):
        raise not_found("Pool", pool_id)
    _pool_checks.check_listener_protocol(listener.protocol, pool.protocol)


def place(listener: models.Listener, policy: models.L7Policy, position: int | None) -> None:
    """Put ``policy`` at ``position`` (None: last) and renumber the listener's policies."""
    live = [p for p in listener.l7policies
            if p is not policy and p.provisioning_status != Status.PENDING_DELETE]
    live.sort(key=lambda p: p.position)
    index = len(live) if position is None else min(position - 1, len(live))
    live.insert(index, policy)
    for number, p in enumerate(live, start=1):
        p.position = number


def renumber_without(listener: models.Listener, leaving: models.L7Policy) -> None:
    live = sorted((p for p in listener.l7policies
                   if p is not leaving and p.provisioning_status != Status.PENDING_DELETE),
                  key=lambda p: p.position)
    for number, p in enumerate(live, start=1):
        p.position = number


@router.get("/v2/lbaas/l7policies", name="list_l7policies")
def list_policies(request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        policies = session.scalars(scoped_select(models.L7Policy, ctx))
        return list_response(request, "l7policies", [policy_view(p) for p in policies])


@router.get("/v2/lbaas/l7policies/{l7policy_id}", name="show_l7policy")
def show_policy(l7policy_id: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        policy = get_scoped(session, models.L7Policy, l7policy_id, ctx, "L7 Policy")
        return show(request, "l7policy", policy_view(policy))


@router.post("/v2/lbaas/l7policies", status_code=201, name="create_l7policy")
def create_policy(body: PolicyCreateBody, ctx: CallerDep, svc: ServicesDep) -> Body:
    req = body.l7policy
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        listener = get_scoped(session, models.Listener, req.listener_id, ctx, "Listener")
        if listener.protocol == "PROMETHEUS":
            raise _pool_checks.no_children(listener.protocol)
        _check_pool(session, ctx, listener, req.redirect_pool_id)
        state = sanitize({"action": req.action,
                          **{f: getattr(req, f) for f in REDIRECT_FIELDS}})
        check_quota(session, svc, listener.project_id, "l7policy")
        lb = listener.loadbalancer
        ensure_mutable(lb)
        _check_listener(listener)  # the amphora driver's check, last as in Octavia
        policy = models.L7Policy(
            project_id=listener.project_id, listener_id=listener.id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            tags=list(req.tags), operating_status=models.OperatingStatus.OFFLINE.value,
            **{f: state.get(f) for f in REDIRECT_FIELDS}, action=state["action"])
        place(listener, policy, req.position)
        session.add(policy)
        child_changed(session, svc, lb, policy, Status.PENDING_CREATE)
        return {"l7policy": policy_view(policy)}


@router.put("/v2/lbaas/l7policies/{l7policy_id}", name="update_l7policy")
def update_policy(l7policy_id: str, body: PolicyUpdateBody, ctx: CallerDep,
                  svc: ServicesDep) -> Body:
    req = body.l7policy
    given = req.model_fields_set
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        policy = get_scoped(session, models.L7Policy, l7policy_id, ctx, "L7 Policy")
        if not given:
            raise _args("Invalid update options")
        listener = policy.listener
        changes = sanitize({f: getattr(req, f) for f in given & {"action", *REDIRECT_FIELDS}})
        _check_pool(session, ctx, listener, changes.get("redirect_pool_id"))
        lb = listener.loadbalancer
        ensure_mutable(lb)
        for field, value in changes.items():
            if field != "action" or value is not None:
                setattr(policy, field, value)
        for field in ("name", "description", "admin_state_up", "tags"):
            value = getattr(req, field)
            if field in given and value is not None:
                setattr(policy, field, list(value) if field == "tags" else value)
        if req.position is not None:
            place(listener, policy, req.position)
        child_changed(session, svc, lb, policy, Status.PENDING_UPDATE)
        return {"l7policy": policy_view(policy)}


@router.delete("/v2/lbaas/l7policies/{l7policy_id}", status_code=204, name="delete_l7policy")
def delete_policy(l7policy_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        policy = get_scoped(session, models.L7Policy, l7policy_id, ctx, "L7 Policy")
        lb = policy.listener.loadbalancer
        ensure_mutable(lb)
        renumber_without(policy.listener, policy)
        for rule in policy.rules:
            rule.provisioning_status = Status.PENDING_DELETE.value
        child_changed(session, svc, lb, policy, Status.PENDING_DELETE)
    return Response(status_code=204)
