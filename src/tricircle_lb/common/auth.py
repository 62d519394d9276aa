"""Token validation for API services, the way keystonemiddleware does it.

Each incoming ``X-Auth-Token`` is checked with identity
(``GET /v3/auth/tokens`` with ``X-Subject-Token``) using the service's own
token; answers are cached for ``token_cache_time`` seconds, so a revoked token
stops working within that time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import httpx

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ServiceUnavailable, Unauthorized
from tricircle_lb.common.http import ServiceSession


class TokenValidator(Protocol):
    def validate(self, token: str) -> Context:
        """The context of a valid token; raises Unauthorized otherwise."""
        ...


class RemoteTokenValidator:
    def __init__(self, session: ServiceSession, cache_time: float) -> None:
        self.session = session
        self.cache_time = cache_time
        self._cache: dict[str, tuple[float, Context]] = {}
        self._lock = threading.Lock()

    def validate(self, token: str) -> Context:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
            if hit and hit[0] > now:
                return hit[1]
        ctx = self._ask_identity(token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now + self.cache_time, ctx)
        return ctx

    def _ask_identity(self, token: str) -> Context:
        url = self.session.auth.auth_url.rstrip("/") + "/auth/tokens"
        for attempt in range(2):
            headers = {"X-Auth-Token": self.session.token(), "X-Subject-Token": token}
            try:
                resp = self.session.client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"identity service unreachable: {exc}") from exc
            if resp.status_code == 401 and attempt == 0:
                self.session.invalidate()  # our own token expired or was revoked
                continue
            break
        if resp.status_code in (401, 404):
            raise Unauthorized("The request you have made requires authentication.")
        if resp.status_code != 200:
            raise ServiceUnavailable(f"token validation failed: {resp.status_code}")
        return context_from_token_body(resp.json()["token"], token)


def context_from_token_body(body: dict[str, object], token: str) -> Context:
    user = body.get("user") or {}
    project = body.get("project") or {}
    domain = body.get("domain") or {}
    roles = body.get("roles") or []
    assert isinstance(user, dict) and isinstance(project, dict) and isinstance(domain, dict)
    assert isinstance(roles, list)
    return Context(
        user_id=str(user.get("id", "")),
        user_name=str(user.get("name", "")),
        project_id=project.get("id"),
        project_name=str(project.get("name", "")),
        domain_id=domain.get("id"),
        roles=frozenset(str(r["name"]) for r in roles),
        token=token,
    )
