"""What every identity route shares: the service state, links, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from tricircle_lb.db.engine import Database
from tricircle_lb.identity.config import IdentityConfig
from tricircle_lb.identity.errors import invalid
from tricircle_lb.identity.tokens import TokenService


@dataclass(frozen=True)
class IdentityState:
    db: Database
    tokens: TokenService
    config: IdentityConfig


def state(request: Request) -> IdentityState:
    """FastAPI dependency: the service's database and token logic."""
    value: IdentityState = request.app.state.identity
    return value


def base_url(request: Request) -> str:
    """``http://host:port`` (plus any root path) the client used, no trailing slash."""
    return str(request.base_url).rstrip("/")


def self_link(request: Request, path: str) -> dict[str, str]:
    return {"self": f"{base_url(request)}/v3/{path}"}


def list_links(request: Request) -> dict[str, Any]:
    return {"self": str(request.url), "previous": None, "next": None}


def with_extra(extra: dict[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    """A resource's fields over its free-form extra attributes."""
    return {**(extra or {}), **fields}


#: Attributes the server owns: never stored as free-form extras.
RESERVED = frozenset({"id", "links", "domain_id", "is_domain", "parent_id", "options",
                      "password_expires_at", "region", "password_hash"})


def extra_of(spec: BaseModel, current: dict[str, Any] | None = None,
             fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The free-form attributes of a request merged over ``current``.

    ``fixed`` are immutable attributes (``id``, ``domain_id``): changing them is a 400,
    repeating their value is harmless, as in Keystone.
    """
    extra = dict(spec.model_extra or {})
    for key, value in (fixed or {}).items():
        if key in extra and extra[key] != value:
            raise invalid(f"Cannot change {key}: it is immutable.")
    return {**(current or {}), **{k: v for k, v in extra.items() if k not in RESERVED}}


def flag(value: str | None) -> bool | None:
    """A boolean query filter (``enabled=true``); None when absent."""
    if value is None:
        return None
    return value.lower() not in ("0", "false", "no", "off", "")
