"""Look-ups shared by the API modules and the token logic.

Every function takes an open session and raises the Keystone-style
``NotFound`` from :mod:`tricircle_lb.identity.errors` when something is missing.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import Unauthorized
from tricircle_lb.identity.errors import invalid, not_found
from tricircle_lb.identity.models import (
    Assignment,
    Domain,
    IdentityBase,
    ImpliedRole,
    Project,
    Role,
    User,
)

PROJECT = "project"
DOMAIN = "domain"

M = TypeVar("M", bound=IdentityBase)


def new_id() -> str:
    return uuid.uuid4().hex


def get(session: Session, model: type[M], ident: str, kind: str) -> M:
    row = session.get(model, ident)
    if row is None:
        raise not_found(kind, ident)
    return row


def find_domain(session: Session, ref: dict[str, Any] | None) -> Domain:
    """A domain named by ``{"id": …}`` or ``{"name": …}``."""
    if not ref or not (ref.get("id") or ref.get("name")):
        raise invalid("Expecting to find domain id or name in the request.")
    if ref.get("id"):
        return get(session, Domain, str(ref["id"]), "domain")
    domain = session.scalars(select(Domain).where(Domain.name == ref["name"])).first()
    if domain is None:
        raise not_found("domain", str(ref["name"]))
    return domain


def find_project(session: Session, ref: dict[str, Any]) -> Project:
    """A project by id, or by name within a domain given by id or name."""
    if ref.get("id"):
        return get(session, Project, str(ref["id"]), "project")
    if not ref.get("name"):
        raise invalid("Expecting to find project id or name in the request.")
    domain = find_domain(session, ref.get("domain"))
    project = session.scalars(select(Project).where(
        Project.domain_id == domain.id, Project.name == ref["name"])).first()
    if project is None:
        raise not_found("project", str(ref["name"]))
    return project


def find_user_for_login(session: Session, ref: dict[str, Any]) -> User:
    """The user a password login names; any miss is a plain 401, as Keystone does."""
    denied = Unauthorized("The request you have made requires authentication.")
    if ref.get("id"):
        user = session.get(User, str(ref["id"]))
    elif ref.get("name"):
        domain_ref = ref.get("domain") or {}
        if not (domain_ref.get("id") or domain_ref.get("name")):
            raise invalid("Expecting to find domain in user. The server could not comply "
                          "with the request since it is either malformed or otherwise "
                          "incorrect. The client is assumed to be in error.")
        if domain_ref.get("id"):
            domain = session.get(Domain, str(domain_ref["id"]))
        else:
            domain = session.scalars(
                select(Domain).where(Domain.name == domain_ref["name"])).first()
        if domain is None:
            raise denied
        user = session.scalars(select(User).where(
            User.domain_id == domain.id, User.name == ref["name"])).first()
    else:
        raise invalid("Expecting to find user id or name in the request.")
    if user is None:
        raise denied
    return user


def implied_closure(session: Session, role_ids: set[str]) -> set[str]:
    """``role_ids`` plus every role they imply, transitively (admin → member → reader)."""
    rules: dict[str, set[str]] = {}
    for rule in session.scalars(select(ImpliedRole)):
        rules.setdefault(rule.prior_role_id, set()).add(rule.implied_role_id)
    result = set(role_ids)
    todo = list(role_ids)
    while todo:
        for implied in rules.get(todo.pop(), ()):
            if implied not in result:
                result.add(implied)
                todo.append(implied)
    return result


def direct_role_ids(session: Session, user_id: str, target_type: str, target_id: str) -> set[str]:
    return set(session.scalars(select(Assignment.role_id).where(
        Assignment.user_id == user_id, Assignment.target_type == target_type,
        Assignment.target_id == target_id)))


def effective_roles(session: Session, user_id: str, target_type: str,
                    target_id: str) -> list[Role]:
    """The roles a token scoped to the target carries, implied roles included."""
    ids = implied_closure(session, direct_role_ids(session, user_id, target_type, target_id))
    if not ids:
        return []
    return list(session.scalars(select(Role).where(Role.id.in_(ids)).order_by(Role.name)))


def user_project_ids(session: Session, user_id: str) -> set[str]:
    return set(session.scalars(select(Assignment.target_id).where(
        Assignment.user_id == user_id, Assignment.target_type == PROJECT)))
