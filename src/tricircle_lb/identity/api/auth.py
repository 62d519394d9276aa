"""``/v3/auth``: issue, validate, check and revoke tokens; the caller's catalog and projects."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr
from sqlalchemy import select

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ApiError, Forbidden, Unauthorized
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import IdentityState, list_links, state
from tricircle_lb.identity.api.domains import domain_view
from tricircle_lb.identity.api.projects import project_view
from tricircle_lb.identity.catalog import build_catalog
from tricircle_lb.identity.models import Assignment, Domain, Project, User
from tricircle_lb.identity.passwords import verify_password
from tricircle_lb.identity.tokens import TokenData, TokenInvalid, subject_not_found

router = APIRouter(prefix="/v3/auth")

DENIED = "The request you have made requires authentication."


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DomainRef(_Lenient):
    id: StrictStr | None = None
    name: StrictStr | None = None


class UserRef(_Lenient):
    id: StrictStr | None = None
    name: StrictStr | None = None
    domain: DomainRef | None = None
    password: StrictStr


class PasswordMethod(_Lenient):
    user: UserRef


class TokenMethod(_Lenient):
    id: StrictStr


class IdentityRef(_Lenient):
    methods: list[StrictStr]
    password: PasswordMethod | None = None
    token: TokenMethod | None = None


class ProjectRef(_Lenient):
    id: StrictStr | None = None
    name: StrictStr | None = None
    domain: DomainRef | None = None


class ScopeRef(_Lenient):
    project: ProjectRef | None = None
    domain: DomainRef | None = None
    system: dict[str, Any] | None = None


class AuthBody(_Lenient):
    identity: IdentityRef
    scope: ScopeRef | Literal["unscoped"] | None = None


class AuthRequest(_Lenient):
    auth: AuthBody


def _identify(st: IdentityState, ident: IdentityRef) -> tuple[str, TokenData | None]:
    """The authenticated user id (and the parent token for the token method)."""
    if "password" in ident.methods:
        if ident.password is None:
            raise Unauthorized(DENIED)
        ref = ident.password.user
        with st.db.read() as session:
            user = store.find_user_for_login(session, ref.model_dump(exclude={"password"}))
            ok = verify_password(user.password_hash, ref.password)
            if not ok or not user.enabled:
                raise Unauthorized(DENIED)
            domain = session.get(Domain, user.domain_id)
            if domain is None or not domain.enabled:
                raise Unauthorized(DENIED)
            return user.id, None
    if "token" in ident.methods and ident.token is not None:
        try:
            parent = st.tokens.validate(ident.token.id)
        except TokenInvalid:
            raise Unauthorized(DENIED) from None
        return parent.user_id, parent
    raise Unauthorized("Attempted to authenticate with an unsupported method.")


def _scope(st: IdentityState, user_id: str, scope: ScopeRef | str | None,
           parent: TokenData | None) -> tuple[str | None, str | None]:
    """``(project_id, domain_id)`` the new token is scoped to; 401 when not allowed."""
    with st.db.read() as session:
        if scope is None and parent is not None:
            return ((parent.project or {}).get("id"), (parent.domain or {}).get("id"))
        if scope is None:
            user = session.get(User, user_id)
            project_id = user.default_project_id if user else None
            if project_id and store.effective_roles(session, user_id, store.PROJECT, project_id):
                project = session.get(Project, project_id)
                if project is not None and project.enabled:
                    return project_id, None
            return None, None
        if isinstance(scope, str):
            return None, None
        try:
            if scope.project is not None:
                project = store.find_project(session, scope.project.model_dump())
                target: tuple[str, str] = (store.PROJECT, project.id)
                if not project.enabled:
                    raise Unauthorized(f"Project {project.id} is not enabled.")
            elif scope.domain is not None:
                domain = store.find_domain(session, scope.domain.model_dump())
                target = (store.DOMAIN, domain.id)
                if not domain.enabled:
                    raise Unauthorized(f"Domain {domain.id} is not enabled.")
            elif scope.system is not None:
                raise Unauthorized("System scope is not supported by this deployment.")
            else:
                return None, None
        except ApiError as exc:
            if exc.status_code == 404:
                raise Unauthorized(exc.message) from None
            raise
        if not store.effective_roles(session, user_id, *target):
            raise Unauthorized(f"User {user_id} has no access to {target[0]} {target[1]}")
        return (target[1], None) if target[0] == store.PROJECT else (None, target[1])


@router.post("/tokens", status_code=201)
def issue_token(body: AuthRequest, nocatalog: str | None = None,
                st: IdentityState = Depends(state)) -> JSONResponse:
    user_id, parent = _identify(st, body.auth.identity)
    project_id, domain_id = _scope(st, user_id, body.auth.scope, parent)
    methods = list(dict.fromkeys([m for m in body.auth.identity.methods
                                  if m in ("password", "token")]))
    if parent is not None:
        methods = list(dict.fromkeys([*parent.methods, *methods]))
    token = st.tokens.issue(user_id, methods, project_id=project_id, domain_id=domain_id,
                            parent=parent)
    try:
        data = st.tokens.validate(token)
    except TokenInvalid:
        raise Unauthorized(DENIED) from None
    rendered = st.tokens.render(data, catalog=nocatalog is None)
    return JSONResponse({"token": rendered}, status_code=201,
                        headers={"X-Subject-Token": token})


def _subject(st: IdentityState, ctx: Context, subject: str | None, action: str,
             allow_expired: bool = False) -> TokenData:
    try:
        if not subject:
            raise TokenInvalid
        data = st.tokens.validate(subject, allow_expired=allow_expired)
    except TokenInvalid:
        raise subject_not_found(subject or "") from None
    policy.enforce(ctx, action, owner=data.user_id == ctx.user_id)
    return data


@router.api_route("/tokens", methods=["GET", "HEAD"])
def validate_token(request: Request, nocatalog: str | None = None,
                   allow_expired: str | None = None,
                   x_subject_token: str | None = Header(default=None),
                   ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> Response:
    expired_ok = allow_expired is not None and allow_expired.lower() in ("1", "true", "yes")
    data = _subject(st, ctx, x_subject_token, "validate_token", expired_ok)
    headers = {"X-Subject-Token": x_subject_token or ""}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers)
    return JSONResponse({"token": st.tokens.render(data, catalog=nocatalog is None)},
                        headers=headers)


@router.delete("/tokens", status_code=204)
def revoke_token(x_subject_token: str | None = Header(default=None),
                 ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> Response:
    _subject(st, ctx, x_subject_token, "revoke_token")
    st.tokens.revoke(x_subject_token or "")
    return Response(status_code=204)


@router.get("/catalog")
def auth_catalog(request: Request, ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    if ctx.project_id is None and ctx.domain_id is None:
        raise Forbidden("A catalog can only be retrieved with a scoped token.")
    with st.db.read() as session:
        return {"catalog": build_catalog(session), "links": list_links(request)}


@router.get("/projects")
def auth_projects(request: Request, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    with st.db.read() as session:
        ids = store.user_project_ids(session, ctx.user_id)
        projects = session.scalars(select(Project).where(
            Project.id.in_(ids), Project.enabled.is_(True)).order_by(Project.name)).all()
        return {"projects": [project_view(request, p) for p in projects],
                "links": list_links(request)}


@router.get("/domains")
def auth_domains(request: Request, ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    with st.db.read() as session:
        ids = set(session.scalars(select(Assignment.target_id).where(
            Assignment.user_id == ctx.user_id, Assignment.target_type == store.DOMAIN)))
        domains = session.scalars(select(Domain).where(Domain.id.in_(ids))).all()
        return {"domains": [domain_view(request, d) for d in domains],
                "links": list_links(request)}
