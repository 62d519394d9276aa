"""``GET /v3/role_assignments`` (what ``openstack role assignment list`` reads)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import IdentityState, base_url, list_links, state
from tricircle_lb.identity.models import Assignment, Domain, Project, Role, User

router = APIRouter(prefix="/v3")


def _names(session: Session) -> dict[str, dict[str, dict[str, Any]]]:
    domains = {d.id: {"id": d.id, "name": d.name} for d in session.scalars(select(Domain))}
    return {
        "domain": domains,
        "role": {r.id: {"id": r.id, "name": r.name} for r in session.scalars(select(Role))},
        "user": {u.id: {"id": u.id, "name": u.name, "domain": domains.get(u.domain_id, {})}
                 for u in session.scalars(select(User))},
        "project": {p.id: {"id": p.id, "name": p.name, "domain": domains.get(p.domain_id, {})}
                    for p in session.scalars(select(Project))},
    }


def _entry(request: Request, row: Assignment, role_id: str, prior: str | None,
           names: dict[str, dict[str, dict[str, Any]]] | None) -> dict[str, Any]:
    plural = "projects" if row.target_type == store.PROJECT else "domains"
    links = {"assignment": f"{base_url(request)}/v3/{plural}/{row.target_id}/users/"
                           f"{row.user_id}/roles/{prior or role_id}"}
    if prior:
        links["prior_role"] = f"{base_url(request)}/v3/roles/{prior}"

    def ref(kind: str, ident: str) -> dict[str, Any]:
        if names is None:
            return {"id": ident}
        return names[kind].get(ident, {"id": ident})

    return {
        "role": ref("role", role_id),
        "user": ref("user", row.user_id),
        "scope": {row.target_type: ref(row.target_type, row.target_id)},
        "links": links,
    }


@router.get("/role_assignments")
def list_role_assignments(request: Request, ctx: Context = Depends(caller),
                          st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_role_assignments")
    q = request.query_params
    query = select(Assignment).order_by(Assignment.user_id, Assignment.target_id)
    if q.get("user.id"):
        query = query.where(Assignment.user_id == q["user.id"])
    if q.get("scope.project.id"):
        query = query.where(Assignment.target_type == store.PROJECT,
                            Assignment.target_id == q["scope.project.id"])
    if q.get("scope.domain.id"):
        query = query.where(Assignment.target_type == store.DOMAIN,
                            Assignment.target_id == q["scope.domain.id"])
    if q.get("group.id"):
        return {"role_assignments": [], "links": list_links(request)}
    effective = "effective" in q
    include_names = "include_names" in q and q["include_names"].lower() not in ("0", "false")
    result: list[tuple[Assignment, str, str | None]] = []
    with st.db.read() as session:
        names = _names(session) if include_names else None
        for row in session.scalars(query):
            result.append((row, row.role_id, None))
            if effective:
                for implied in sorted(store.implied_closure(session, {row.role_id})
                                      - {row.role_id}):
                    result.append((row, implied, row.role_id))
        if effective:  # a role both granted and implied is listed once
            seen: set[tuple[str, str, str]] = set()
            unique: list[tuple[Assignment, str, str | None]] = []
            for row, role_id, prior in sorted(result, key=lambda r: r[2] is not None):
                key = (row.user_id, row.target_id, role_id)
                if key not in seen:
                    seen.add(key)
                    unique.append((row, role_id, prior))
            result = unique
        role_filter = q.get("role.id")
        entries = [_entry(request, row, role_id, prior, names)
                   for row, role_id, prior in result
                   if not role_filter or role_id == role_filter]
    return {"role_assignments": entries, "links": list_links(request)}
