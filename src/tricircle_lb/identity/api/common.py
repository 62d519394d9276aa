"""What every identity route shares: the service state, links, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from tricircle_lb.db.engine import Database
from tricircle_lb.identity.config import IdentityConfig
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


def flag(value: str | None) -> bool | None:
    """A boolean query filter (``enabled=true``); None when absent."""
    if value is None:
        return None
    return value.lower() not in ("0", "false", "no", "off", "")
