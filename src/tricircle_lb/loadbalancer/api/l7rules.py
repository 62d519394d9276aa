"""``/v2/lbaas/l7policies/{l7policy_id}/rules``: Octavia's L7 rules.

Types PATH, HOST_NAME, HEADER, COOKIE and FILE_TYPE with compare types
EQUAL_TO, STARTS_WITH, ENDS_WITH, CONTAINS and REGEX (FILE_TYPE: EQUAL_TO and
REGEX only); HEADER and COOKIE need a ``key``; the SSL_* types (client
certificates of TERMINATED_HTTPS listeners) as Octavia checks them. What a
value may hold: ``_l7_checks``.
A policy holds at most 50 rules, as in Octavia.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api._l7_checks import check_rule
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    RequestBody,
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
from tricircle_lb.loadbalancer.errors import not_found

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]
MAX_RULES_PER_POLICY = 50

RuleType = Literal["PATH", "HOST_NAME", "HEADER", "COOKIE", "FILE_TYPE", "SSL_CONN_HAS_CERT",
                   "SSL_VERIFY_RESULT", "SSL_DN_FIELD"]
CompareType = Literal["EQUAL_TO", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "REGEX"]


class RuleCreate(RequestBody):
    type: RuleType
    compare_type: CompareType
    value: str = Field(max_length=255)
    key: str | None = Field(None, max_length=255)
    invert: bool = False
    admin_state_up: bool = True
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    tags: Tags = Field(default_factory=list)


class RuleUpdate(RequestBody):
    type: RuleType | None = None
    compare_type: CompareType | None = None
    value: str | None = Field(None, max_length=255)
    key: str | None = Field(None, max_length=255)
    invert: bool | None = None
    admin_state_up: bool | None = None
    tags: Tags | None = None


class RuleCreateBody(RequestBody):
    rule: RuleCreate


class RuleUpdateBody(RequestBody):
    rule: RuleUpdate


def rule_view(rule: models.L7Rule) -> Body:
    return {
        "id": rule.id, "project_id": rule.project_id, "admin_state_up": rule.admin_state_up,
        "provisioning_status": rule.provisioning_status,
        "operating_status": rule.operating_status, "type": rule.type,
        "compare_type": rule.compare_type, "key": rule.key, "value": rule.value,
        "invert": rule.invert, "tags": list(rule.tags or []),
        **timestamps(rule),
    }


def _policy(session: Session, l7policy_id: str, ctx: Context) -> models.L7Policy:
    return get_scoped(session, models.L7Policy, l7policy_id, ctx, "L7 Policy")


def _rule(session: Session, policy: models.L7Policy, rule_id: str,
          ctx: Context) -> models.L7Rule:
    rule = get_scoped(session, models.L7Rule, rule_id, ctx, "L7 Rule")
    if rule.l7policy_id != policy.id:
        raise not_found("L7 Rule", rule_id)
    return rule


@router.get("/v2/lbaas/l7policies/{l7policy_id}/rules", name="list_l7rules")
def list_rules(l7policy_id: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        policy = _policy(session, l7policy_id, ctx)
        query = scoped_select(models.L7Rule, ctx).where(models.L7Rule.l7policy_id == policy.id)
        return list_response(request, "rules", [rule_view(r) for r in session.scalars(query)])


@router.get("/v2/lbaas/l7policies/{l7policy_id}/rules/{rule_id}", name="show_l7rule")
def show_rule(l7policy_id: str, rule_id: str, request: Request, ctx: CallerDep,
              svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        rule = _rule(session, _policy(session, l7policy_id, ctx), rule_id, ctx)
        return show(request, "rule", rule_view(rule))


@router.post("/v2/lbaas/l7policies/{l7policy_id}/rules", status_code=201,
             name="create_l7rule")
def create_rule(l7policy_id: str, body: RuleCreateBody, ctx: CallerDep,
                svc: ServicesDep) -> Body:
    req = body.rule
    authorize(ctx, Action.WRITE)
    check_rule(req.type, req.compare_type, req.key, req.value)
    with svc.db.write() as session:
        policy = _policy(session, l7policy_id, ctx)
        live = [r for r in policy.rules if r.provisioning_status != Status.PENDING_DELETE]
        if len(live) >= MAX_RULES_PER_POLICY:
            raise Conflict(f"Too many rules on L7 policy {policy.id}")
        check_quota(session, svc, policy.project_id, "l7rule")
        lb = policy.listener.loadbalancer
        ensure_mutable(lb)
        rule = models.L7Rule(
            project_id=policy.project_id, l7policy_id=policy.id, type=req.type,
            compare_type=req.compare_type, key=req.key, value=req.value, invert=req.invert,
            admin_state_up=req.admin_state_up, tags=list(req.tags),
            operating_status=models.OperatingStatus.OFFLINE.value)
        session.add(rule)
        child_changed(session, svc, lb, rule, Status.PENDING_CREATE)
        return {"rule": rule_view(rule)}


@router.put("/v2/lbaas/l7policies/{l7policy_id}/rules/{rule_id}", name="update_l7rule")
def update_rule(l7policy_id: str, rule_id: str, body: RuleUpdateBody, ctx: CallerDep,
                svc: ServicesDep) -> Body:
    req = body.rule
    given = req.model_fields_set
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        rule = _rule(session, _policy(session, l7policy_id, ctx), rule_id, ctx)
        state = {f: getattr(rule, f) for f in ("type", "compare_type", "key", "value")}
        for field in given & state.keys():
            value = getattr(req, field)
            # Only ``key`` may be cleared (a rule that changes to a type without one).
            if value is not None or field == "key":
                state[field] = value
        if "type" in given and state["type"] not in ("HEADER", "COOKIE") \
                and "key" not in given:
            state["key"] = None
        check_rule(state["type"], state["compare_type"], state["key"], state["value"])
        lb = rule.l7policy.listener.loadbalancer
        ensure_mutable(lb)
        for field, value in state.items():
            setattr(rule, field, value)
        for field in ("invert", "admin_state_up", "tags"):
            value = getattr(req, field)
            if field in given and value is not None:
                setattr(rule, field, list(value) if field == "tags" else value)
        child_changed(session, svc, lb, rule, Status.PENDING_UPDATE)
        return {"rule": rule_view(rule)}


@router.delete("/v2/lbaas/l7policies/{l7policy_id}/rules/{rule_id}", status_code=204,
               name="delete_l7rule")
def delete_rule(l7policy_id: str, rule_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        rule = _rule(session, _policy(session, l7policy_id, ctx), rule_id, ctx)
        lb = rule.l7policy.listener.loadbalancer
        ensure_mutable(lb)
        child_changed(session, svc, lb, rule, Status.PENDING_DELETE)
    return Response(status_code=204)
