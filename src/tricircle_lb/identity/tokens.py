"""Tokens: issue, validate, revoke, render.

A token is a random opaque string (``secrets.token_urlsafe``); the database
keeps only its sha256 with the scope, methods, audit ids and expiry
(docs/decisions/010-identity-opaque-tokens.md). Roles, names and the catalog
are read fresh at each validation, so a token stops working as soon as its
user or project is disabled or deleted, or its user loses every role on the
project it is scoped to, and a revoked token never comes back.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import NotFound, Unauthorized
from tricircle_lb.db.engine import Database
from tricircle_lb.identity import store
from tricircle_lb.identity.catalog import build_catalog
from tricircle_lb.identity.models import Domain, Project, Token, User

#: How long an expired token may still be validated with ``?allow_expired=1``
#: (Keystone's ``[token] allow_expired_window``).
ALLOW_EXPIRED_WINDOW = timedelta(hours=48)


class TokenInvalid(Exception):
    """The token is unknown, expired, revoked, or its user/scope is gone."""


@dataclass(frozen=True)
class TokenData:
    """What a valid token stands for, read fresh from the database."""

    user: dict[str, Any]
    methods: list[str]
    audit_ids: list[str]
    issued_at: datetime
    expires_at: datetime
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    roles: list[dict[str, str]] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r["name"] for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_names

    @property
    def scoped(self) -> bool:
        return self.project is not None or self.domain is not None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def format_time(moment: datetime) -> str:
    """Keystone's timestamp format: ``2026-11-25T12:00:00.000000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


class TokenService:
    def __init__(self, db: Database, expiration: int) -> None:
        self.db = db
        self.expiration = timedelta(seconds=expiration)

    def issue(self, user_id: str, methods: list[str], *, project_id: str | None = None,
              domain_id: str | None = None, parent: TokenData | None = None) -> str:
        """A new token; one issued from ``parent`` (token method) keeps its expiry."""
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = parent.expires_at if parent else now + self.expiration
        audit_ids = [_audit_id()] + (parent.audit_ids[:1] if parent else [])
        with self.db.write() as session:
            session.execute(delete(Token).where(
                Token.expires_at < now - ALLOW_EXPIRED_WINDOW))
            session.add(Token(id_hash=hash_token(token), user_id=user_id,
                              project_id=project_id, domain_id=domain_id, methods=methods,
                              audit_ids=audit_ids, issued_at=now, expires_at=expires,
                              revoked=False))
        return token

    def validate(self, token: str, *, allow_expired: bool = False) -> TokenData:
        """The token's data, or :class:`TokenInvalid`."""
        with self.db.read() as session:
            row = session.get(Token, hash_token(token))
            if row is None or row.revoked:
                raise TokenInvalid
            now = _now()
            limit = now - ALLOW_EXPIRED_WINDOW if allow_expired else now
            if row.expires_at <= limit:
                raise TokenInvalid
            user = session.get(User, row.user_id)
            if user is None or not user.enabled:
                raise TokenInvalid
            user_domain = session.get(Domain, user.domain_id)
            if user_domain is None or not user_domain.enabled:
                raise TokenInvalid
            data: dict[str, Any] = {}
            target: tuple[str, str] | None = None
            if row.project_id:
                project = session.get(Project, row.project_id)
                if project is None or not project.enabled:
                    raise TokenInvalid
                project_domain = session.get(Domain, project.domain_id)
                assert project_domain is not None
                data["project"] = {
                    "id": project.id, "name": project.name,
                    "domain": {"id": project_domain.id, "name": project_domain.name}}
                target = (store.PROJECT, project.id)
            elif row.domain_id:
                domain = session.get(Domain, row.domain_id)
                if domain is None or not domain.enabled:
                    raise TokenInvalid
                data["domain"] = {"id": domain.id, "name": domain.name}
                target = (store.DOMAIN, domain.id)
            if target:
                roles = store.effective_roles(session, user.id, *target)
                if not roles:
                    raise TokenInvalid
                data["roles"] = [{"id": r.id, "name": r.name} for r in roles]
            return TokenData(
                user={"id": user.id, "name": user.name, "password_expires_at": None,
                      "domain": {"id": user_domain.id, "name": user_domain.name}},
                methods=list(row.methods), audit_ids=list(row.audit_ids),
                issued_at=row.issued_at, expires_at=row.expires_at, **data)

    def revoke(self, token: str) -> None:
        with self.db.write() as session:
            session.execute(update(Token).where(Token.id_hash == hash_token(token))
                            .values(revoked=True))

    def revoke_user(self, user_id: str) -> None:
        """Every token of a user (password changed, user disabled)."""
        with self.db.write() as session:
            session.execute(update(Token).where(Token.user_id == user_id).values(revoked=True))

    def render(self, data: TokenData, *, catalog: bool = True) -> dict[str, Any]:
        """The ``token`` object of Keystone's response body."""
        body: dict[str, Any] = {
            "methods": data.methods,
            "user": data.user,
            "audit_ids": data.audit_ids,
            "expires_at": format_time(data.expires_at),
            "issued_at": format_time(data.issued_at),
        }
        if data.project is not None:
            body["project"] = data.project
            body["is_domain"] = False
        if data.domain is not None:
            body["domain"] = data.domain
        if data.scoped:
            body["roles"] = data.roles
            if catalog:
                with self.db.read() as session:
                    body["catalog"] = build_catalog(session)
        return body


class LocalTokenValidator:
    """Identity's own :class:`~tricircle_lb.common.auth.TokenValidator`: no HTTP hop."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def validate(self, token: str) -> Context:
        try:
            data = self.tokens.validate(token)
        except TokenInvalid:
            raise Unauthorized("The request you have made requires authentication.") from None
        return context_of(data, token)


def context_of(data: TokenData, token: str) -> Context:
    project = data.project or {}
    domain = data.domain or {}
    return Context(
        user_id=data.user_id,
        user_name=str(data.user["name"]),
        project_id=project.get("id"),
        project_name=str(project.get("name", "")),
        domain_id=domain.get("id"),
        roles=data.role_names,
        token=token,
    )


def subject_not_found(token: str) -> NotFound:
    return NotFound(f"Could not find token: {token}.", kind="TokenNotFound")
