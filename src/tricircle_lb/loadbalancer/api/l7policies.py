"""``/v2/lbaas/l7policies``: Octavia's L7 policies of HTTP listeners.

Actions REDIRECT_TO_POOL (a pool of the same load balancer that the listener
can carry), REDIRECT_TO_URL (an absolute http/https URL, with
``redirect_http_code`` 301/302/303/307/308, 302 by default) and REJECT.
REDIRECT_PREFIX is recognised and refused: the amphora does not render it.

Positions are 1-based and contiguous per listener, as in Octavia: a policy
created or moved to position *p* goes before the one that held *p*, a
position past the end means last, and the rest are renumbered. A policy on
its way out (``PENDING_DELETE``) holds no position in that numbering.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api import _pool_checks
from tricircle_lb.loadbalancer.api._l7_checks import check_redirect_url
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
from tricircle_lb.loadbalancer.errors import invalid_option, not_found

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]

PolicyAction = Literal["REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT"]
Position = Annotated[int, Field(ge=1, le=2147483647)]
RedirectCode = Literal[301, 302, 303, 307, 308]
# The attributes that belong to each action; the others must be absent.
ACTION_FIELDS = {
    "REDIRECT_TO_POOL": ("redirect_pool_id",),
    "REDIRECT_TO_URL": ("redirect_url", "redirect_http_code"),
    "REJECT": (),
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
    redirect_url: str | None = Field(None, max_length=2048)
    redirect_prefix: str | None = Field(None, max_length=2048)
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
    redirect_url: str | None = Field(None, max_length=2048)
    redirect_prefix: str | None = Field(None, max_length=2048)
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


def redirect_state(action: str, state: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The redirect attributes for ``action``: required ones present, the others
    cleared (or 400 when the caller set them in this request)."""
    if action == "REDIRECT_PREFIX":
        raise invalid_option("Provider 'amphora' does not support a requested option: "
                             "L7 policy action REDIRECT_PREFIX is not supported.")
    result = dict(state)
    for field in REDIRECT_FIELDS:
        if field in ACTION_FIELDS[action]:
            continue
        if field in given and state.get(field) is not None:
            raise invalid_option(f"{field} is not a valid option for L7 policy action "
                                 f"{action}.")
        result[field] = None
    if action == "REDIRECT_TO_POOL" and not result.get("redirect_pool_id"):
        raise invalid_option("A valid redirect_pool_id must be specified for action "
                             "REDIRECT_TO_POOL.")
    if action == "REDIRECT_TO_URL":
        if not result.get("redirect_url"):
            raise invalid_option("A valid redirect_url must be specified for action "
                                 "REDIRECT_TO_URL.")
        check_redirect_url(result["redirect_url"])
        result["redirect_http_code"] = result.get("redirect_http_code") or 302
    return result


def _check_listener(listener: models.Listener) -> None:
    if listener.protocol != "HTTP":
        raise invalid_option(f"L7 policies are only supported on HTTP listeners, not "
                             f"{listener.protocol}.")


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
    state = redirect_state(req.action, {f: getattr(req, f) for f in REDIRECT_FIELDS},
                           req.model_fields_set)
    with svc.db.write() as session:
        listener = get_scoped(session, models.Listener, req.listener_id, ctx, "Listener")
        _check_listener(listener)
        _check_pool(session, ctx, listener, state["redirect_pool_id"])
        check_quota(session, svc, listener.project_id, "l7policy")
        lb = listener.loadbalancer
        ensure_mutable(lb)
        policy = models.L7Policy(
            project_id=listener.project_id, listener_id=listener.id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            action=req.action, tags=list(req.tags),
            operating_status=models.OperatingStatus.OFFLINE.value, **state)
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
        listener = policy.listener
        action = req.action or policy.action
        current = {f: getattr(policy, f) for f in REDIRECT_FIELDS}
        current.update({f: getattr(req, f) for f in given & set(REDIRECT_FIELDS)})
        state = redirect_state(action, current, given)
        _check_pool(session, ctx, listener, state["redirect_pool_id"])
        lb = listener.loadbalancer
        ensure_mutable(lb)
        policy.action = action
        for field, value in state.items():
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
