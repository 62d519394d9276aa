"""``/v3/roles`` and role assignments on projects and domains."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import delete, select

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import (
    IdentityState,
    extra_of,
    list_links,
    self_link,
    state,
    with_extra,
)
from tricircle_lb.identity.errors import duplicate, not_found
from tricircle_lb.identity.models import Assignment, Domain, Project, Role, User

router = APIRouter(prefix="/v3")

Name = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name
    description: StrictStr | None = None
    domain_id: None = None


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    description: StrictStr | None = None


class RoleCreateRequest(BaseModel):
    role: RoleCreate


class RoleUpdateRequest(BaseModel):
    role: RoleUpdate


def role_view(request: Request, role: Role) -> dict[str, Any]:
    return with_extra(role.extra, {
        "id": role.id, "name": role.name, "domain_id": None,
        "description": role.description or None, "options": {},
        "links": self_link(request, f"roles/{role.id}"),
    })


def _duplicate_name(name: str) -> Exception:
    return duplicate("role", f"Duplicate entry found with name {name}")


@router.post("/roles", status_code=201)
def create_role(request: Request, body: RoleCreateRequest, ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_role")
    spec = body.role
    with st.db.write() as session:
        if session.scalars(select(Role).where(Role.name == spec.name)).first():
            raise _duplicate_name(spec.name)
        role = Role(id=store.new_id(), name=spec.name, description=spec.description or "",
                    extra=extra_of(spec))
        session.add(role)
        session.flush()
        return {"role": role_view(request, role)}


@router.get("/roles")
def list_roles(request: Request, name: str | None = None, domain_id: str | None = None,
               ctx: Context = Depends(caller),
               st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_roles")
    query = select(Role).order_by(Role.name)
    if name is not None:
        query = query.where(Role.name == name)
    with st.db.read() as session:
        roles = [] if domain_id else list(session.scalars(query))
        return {"roles": [role_view(request, r) for r in roles], "links": list_links(request)}


@router.get("/roles/{role_id}")
def show_role(request: Request, role_id: str, ctx: Context = Depends(caller),
              st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_role")
    with st.db.read() as session:
        return {"role": role_view(request, store.get(session, Role, role_id, "role"))}


@router.patch("/roles/{role_id}")
def update_role(request: Request, role_id: str, body: RoleUpdateRequest,
                ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_role")
    spec = body.role
    with st.db.write() as session:
        role = store.get(session, Role, role_id, "role")
        if spec.name is not None and spec.name != role.name:
            if session.scalars(select(Role).where(Role.name == spec.name)).first():
                raise _duplicate_name(spec.name)
            role.name = spec.name
        if spec.description is not None:
            role.description = spec.description
        role.extra = extra_of(spec, role.extra, {"id": role.id})
        session.flush()
        return {"role": role_view(request, role)}


@router.delete("/roles/{role_id}", status_code=204)
def delete_role(role_id: str, ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_role")
    with st.db.write() as session:
        role = store.get(session, Role, role_id, "role")
        session.execute(delete(Assignment).where(Assignment.role_id == role.id))
        session.delete(role)
    return Response(status_code=204)


# --- assignments: /v3/{projects|domains}/{target}/users/{user}/roles[/{role}] ---

TARGETS: dict[str, tuple[str, type[Project] | type[Domain]]] = {
    "projects": (store.PROJECT, Project), "domains": (store.DOMAIN, Domain)}


def _target(kind: str) -> tuple[str, type[Project] | type[Domain]]:
    if kind not in TARGETS:
        raise not_found("resource", kind)
    return TARGETS[kind]


@router.put("/{kind}/{target_id}/users/{user_id}/roles/{role_id}", status_code=204)
def grant(kind: str, target_id: str, user_id: str, role_id: str,
          ctx: Context = Depends(caller), st: IdentityState = Depends(state)) -> Response:
    target_type, model = _target(kind)
    policy.enforce(ctx, "create_grant")
    with st.db.write() as session:
        store.get(session, model, target_id, target_type)
        store.get(session, User, user_id, "user")
        store.get(session, Role, role_id, "role")
        key = (user_id, target_type, target_id, role_id)
        if session.get(Assignment, key) is None:
            session.add(Assignment(user_id=user_id, target_type=target_type,
                                   target_id=target_id, role_id=role_id))
    return Response(status_code=204)


@router.api_route("/{kind}/{target_id}/users/{user_id}/roles/{role_id}",
                  methods=["GET", "HEAD"], status_code=204)
def check_grant(kind: str, target_id: str, user_id: str, role_id: str,
                ctx: Context = Depends(caller), st: IdentityState = Depends(state)) -> Response:
    target_type, model = _target(kind)
    policy.enforce(ctx, "check_grant")
    with st.db.read() as session:
        store.get(session, model, target_id, target_type)
        store.get(session, User, user_id, "user")
        store.get(session, Role, role_id, "role")
        if session.get(Assignment, (user_id, target_type, target_id, role_id)) is None:
            raise not_found("role assignment", f"{role_id}")
    return Response(status_code=204)


@router.delete("/{kind}/{target_id}/users/{user_id}/roles/{role_id}", status_code=204)
def revoke(kind: str, target_id: str, user_id: str, role_id: str,
           ctx: Context = Depends(caller), st: IdentityState = Depends(state)) -> Response:
    target_type, _model = _target(kind)
    policy.enforce(ctx, "revoke_grant")
    with st.db.write() as session:
        row = session.get(Assignment, (user_id, target_type, target_id, role_id))
        if row is None:
            raise not_found("role assignment", f"{role_id}")
        session.delete(row)
    return Response(status_code=204)


@router.get("/{kind}/{target_id}/users/{user_id}/roles")
def list_grants(request: Request, kind: str, target_id: str, user_id: str,
                ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    target_type, model = _target(kind)
    policy.enforce(ctx, "list_grants")
    with st.db.read() as session:
        store.get(session, model, target_id, target_type)
        store.get(session, User, user_id, "user")
        ids = store.direct_role_ids(session, user_id, target_type, target_id)
        roles = session.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name))
        return {"roles": [role_view(request, r) for r in roles], "links": list_links(request)}

