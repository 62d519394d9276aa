"""``/v3/users``: users with argon2-hashed passwords."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Unauthorized
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import (
    IdentityState,
    extra_of,
    flag,
    list_links,
    self_link,
    state,
    with_extra,
)
from tricircle_lb.identity.errors import duplicate
from tricircle_lb.identity.models import Assignment, Domain, Project, User
from tricircle_lb.identity.passwords import hash_password, verify_password

router = APIRouter(prefix="/v3/users")

Name = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name
    domain_id: StrictStr | None = None
    default_project_id: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool = True
    password: StrictStr | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    default_project_id: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None
    password: StrictStr | None = None


class UserCreateRequest(BaseModel):
    user: UserCreate


class UserUpdateRequest(BaseModel):
    user: UserUpdate


class PasswordChange(BaseModel):
    original_password: StrictStr
    password: StrictStr


class PasswordChangeRequest(BaseModel):
    user: PasswordChange


def user_view(request: Request, user: User) -> dict[str, Any]:
    view = with_extra(user.extra, {
        "id": user.id,
        "name": user.name,
        "domain_id": user.domain_id,
        "enabled": user.enabled,
        "password_expires_at": None,
        "options": {},
        "links": self_link(request, f"users/{user.id}"),
    })
    if user.default_project_id:
        view["default_project_id"] = user.default_project_id
    if user.description:
        view["description"] = user.description
    return view


def _check_unique(session: Session, domain_id: str, name: str, own_id: str = "") -> None:
    clash = session.scalars(select(User).where(
        User.domain_id == domain_id, User.name == name, User.id != own_id)).first()
    if clash is not None:
        raise duplicate("user", f"Duplicate entry found with name {name} at domain ID "
                                f"{domain_id}")


@router.post("", status_code=201)
def create_user(request: Request, body: UserCreateRequest, ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_user")
    spec = body.user
    with st.db.write() as session:
        domain_id = spec.domain_id or ctx.domain_id or "default"
        store.get(session, Domain, domain_id, "domain")
        if spec.default_project_id:
            store.get(session, Project, spec.default_project_id, "project")
        _check_unique(session, domain_id, spec.name)
        user = User(id=store.new_id(), name=spec.name, domain_id=domain_id,
                    enabled=spec.enabled, default_project_id=spec.default_project_id,
                    description=spec.description or "",
                    password_hash=hash_password(spec.password) if spec.password else None,
                    extra=extra_of(spec))
        session.add(user)
        session.flush()
        return {"user": user_view(request, user)}


@router.get("")
def list_users(request: Request, name: str | None = None, domain_id: str | None = None,
               enabled: str | None = None, ctx: Context = Depends(caller),
               st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_users")
    query = select(User).order_by(User.name)
    if name is not None:
        query = query.where(User.name == name)
    if domain_id is not None:
        query = query.where(User.domain_id == domain_id)
    if flag(enabled) is not None:
        query = query.where(User.enabled.is_(flag(enabled)))
    with st.db.read() as session:
        return {"users": [user_view(request, u) for u in session.scalars(query)],
                "links": list_links(request)}


@router.get("/{user_id}")
def show_user(request: Request, user_id: str, ctx: Context = Depends(caller),
              st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_user", owner=ctx.user_id == user_id)
    with st.db.read() as session:
        return {"user": user_view(request, store.get(session, User, user_id, "user"))}


@router.patch("/{user_id}")
def update_user(request: Request, user_id: str, body: UserUpdateRequest,
                ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_user")
    spec = body.user
    revoke = False
    with st.db.write() as session:
        user = store.get(session, User, user_id, "user")
        if spec.name is not None:
            _check_unique(session, user.domain_id, spec.name, user.id)
            user.name = spec.name
        if "default_project_id" in spec.model_fields_set:
            if spec.default_project_id:
                store.get(session, Project, spec.default_project_id, "project")
            user.default_project_id = spec.default_project_id
        if spec.description is not None:
            user.description = spec.description
        if spec.enabled is not None:
            revoke = user.enabled and not spec.enabled
            user.enabled = spec.enabled
        if spec.password is not None:
            user.password_hash = hash_password(spec.password)
            revoke = True
        user.extra = extra_of(spec, user.extra, {"id": user.id, "domain_id": user.domain_id})
        session.flush()
        view = user_view(request, user)
    if revoke:
        st.tokens.revoke_user(user_id)
    return {"user": view}


@router.post("/{user_id}/password", status_code=204)
def change_password(user_id: str, body: PasswordChangeRequest, ctx: Context = Depends(caller),
                    st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "change_password", owner=ctx.user_id == user_id)
    with st.db.write() as session:
        user = store.get(session, User, user_id, "user")
        if not verify_password(user.password_hash, body.user.original_password):
            raise Unauthorized("The request you have made requires authentication.")
        user.password_hash = hash_password(body.user.password)
    st.tokens.revoke_user(user_id)
    return Response(status_code=204)


@router.delete("/{user_id}", status_code=204)
def delete_user(user_id: str, ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_user")
    with st.db.write() as session:
        user = store.get(session, User, user_id, "user")
        session.execute(delete(Assignment).where(Assignment.user_id == user.id))
        session.delete(user)
    st.tokens.revoke_user(user_id)
    return Response(status_code=204)
