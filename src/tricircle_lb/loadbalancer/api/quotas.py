"""``/v2/lbaas/quotas`` (also ``/v2/quotas``): per-project limits.

Responses carry both of Octavia's spellings (``loadbalancer`` and the
deprecated ``load_balancer``, ``healthmonitor`` and ``health_monitor``);
requests may use either. Values are effective limits: a project without its
own value shows the configured default. Changing or resetting is for admins
and answers 202, as Octavia does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import Field
from sqlalchemy import select

from tricircle_lb.common.context import Context
from tricircle_lb.loadbalancer import quotas
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    RequestBody,
    ServicesDep,
    authorize,
    authorize_list,
    list_response,
)
from tricircle_lb.loadbalancer.errors import forbidden
from tricircle_lb.loadbalancer.models import Quota
from tricircle_lb.loadbalancer.policy import sees_all_projects

router = APIRouter()
PREFIXES = ("/v2/lbaas/quotas", "/v2/quotas")
ALIASES = {"load_balancer": "loadbalancer", "health_monitor": "healthmonitor"}
Limit = int | None


class QuotaValues(RequestBody):
    loadbalancer: Limit = Field(default=None, ge=-1, le=2000000000)
    load_balancer: Limit = Field(default=None, ge=-1, le=2000000000)
    listener: Limit = Field(default=None, ge=-1, le=2000000000)
    pool: Limit = Field(default=None, ge=-1, le=2000000000)
    healthmonitor: Limit = Field(default=None, ge=-1, le=2000000000)
    health_monitor: Limit = Field(default=None, ge=-1, le=2000000000)
    member: Limit = Field(default=None, ge=-1, le=2000000000)
    l7policy: Limit = Field(default=None, ge=-1, le=2000000000)
    l7rule: Limit = Field(default=None, ge=-1, le=2000000000)


class QuotaRequest(RequestBody):
    quota: QuotaValues


def view(values: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = dict(values)
    for old, new in ALIASES.items():
        result[old] = values[new]
    return result


def _may_read(ctx: Context, project_id: str) -> None:
    authorize(ctx, Action.READ)
    if project_id != ctx.project_id and not sees_all_projects(ctx):
        raise forbidden()


def list_quotas(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        query = select(Quota.project_id)
        if not sees_all_projects(ctx):
            query = query.where(Quota.project_id == ctx.project_id)
        rows = [{"project_id": pid,
                 **view(quotas.limits(session, pid, svc.config.default_quotas))}
                for pid in session.scalars(query).all()]
    return list_response(request, "quotas", rows)


def show_quota(project_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    _may_read(ctx, project_id)
    with svc.db.read() as session:
        return {"quota": view(quotas.limits(session, project_id, svc.config.default_quotas))}


def show_defaults(project_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    _may_read(ctx, project_id)
    return {"quota": view(dict(svc.config.default_quotas))}


def update_quota(project_id: str, body: QuotaRequest, ctx: CallerDep,
                 svc: ServicesDep) -> dict[str, Any]:
    """202 with the project's quota as it now stands, as Octavia answers."""
    authorize(ctx, Action.ADMIN)
    changes = body.quota.model_dump(exclude_unset=True)
    with svc.db.write() as session:
        row = session.get(Quota, project_id) or Quota(project_id=project_id)
        session.add(row)
        for name, value in changes.items():
            setattr(row, ALIASES.get(name, name), value)
        session.flush()
        return {"quota": view(quotas.limits(session, project_id, svc.config.default_quotas))}


def reset_quota(project_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.ADMIN)
    with svc.db.write() as session:
        row = session.get(Quota, project_id)
        if row is not None:
            session.delete(row)
    return Response(status_code=202)


for _prefix in PREFIXES:
    router.add_api_route(_prefix, list_quotas, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{project_id}}", show_quota, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{project_id}}/default", show_defaults, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{project_id}}", update_quota, methods=["PUT"],
                         status_code=202)
    router.add_api_route(f"{_prefix}/{{project_id}}", reset_quota, methods=["DELETE"],
                         status_code=202)
