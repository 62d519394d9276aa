"""Calling other services: service credentials, catalog look-ups, request ids.

Services talk to each other only through their public APIs. A
:class:`ServiceSession` holds the calling service's own token (renewed before
it expires) and finds peers in the identity catalog, as keystoneauth does.
Outgoing calls carry the current request id so one user request can be
followed through every service's log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tricircle_lb.common import request_id
from tricircle_lb.common.config import AuthConfig
from tricircle_lb.common.errors import ServiceUnavailable

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _add_request_id(request: httpx.Request) -> None:
    rid = request_id.current.get()
    if rid and request_id.HEADER not in request.headers:
        request.headers[request_id.HEADER] = rid


def make_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    """An HTTP client for service-to-service calls (request ids attached)."""
    return httpx.Client(timeout=timeout, event_hooks={"request": [_add_request_id]})


@dataclass(frozen=True)
class Endpoint:
    region: str
    service_type: str
    url: str


class ServiceSession:
    """A service's own authenticated session against identity.

    Thread safe. ``token()`` may be called on every request: it returns the
    cached token until shortly before it expires.
    """

    RENEW_MARGIN = 60.0

    def __init__(self, auth: AuthConfig, client: httpx.Client | None = None) -> None:
        self.auth = auth
        self.client = client or make_client()
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0
        self._catalog: list[Endpoint] = []

    def token(self) -> str:
        with self._lock:
            if not self._token or time.monotonic() > self._expires - self.RENEW_MARGIN:
                self._authenticate()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = ""

    def endpoint(self, service_type: str, region: str) -> str:
        """Public URL of ``service_type`` in ``region`` from the catalog."""
        self.token()
        for attempt in range(2):
            for ep in self._catalog:
                if ep.service_type == service_type and ep.region == region:
                    return ep.url.rstrip("/")
            if attempt == 0:
                # The catalog may have grown since we logged in (regions added later).
                self.invalidate()
                self.token()
        raise ServiceUnavailable(f"no {service_type} endpoint for region {region} in the catalog")

    def _authenticate(self) -> None:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {
                        "name": self.auth.username,
                        "domain": {"name": self.auth.user_domain_name},
                        "password": self.auth.password,
                    }},
                },
                "scope": {"project": {
                    "name": self.auth.project_name,
                    "domain": {"name": self.auth.project_domain_name},
                }},
            }
        }
        url = self.auth.auth_url.rstrip("/") + "/auth/tokens"
        try:
            resp = self.client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"identity service unreachable: {exc}") from exc
        if resp.status_code != 201:
            raise ServiceUnavailable(
                f"service login as {self.auth.username} failed: {resp.status_code}")
        token = resp.json()["token"]
        self._token = resp.headers["X-Subject-Token"]
        # Token lifetime comes from identity; keep our own clock to avoid skew.
        self._expires = time.monotonic() + _lifetime(token)
        self._catalog = [
            Endpoint(ep["region_id"], svc["type"], ep["url"])
            for svc in token.get("catalog", [])
            for ep in svc.get("endpoints", [])
            if ep.get("interface") == "public"
        ]


def _lifetime(token: dict[str, Any]) -> float:
    try:
        expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 300.0
    return max(0.0, (expires - datetime.now(UTC)).total_seconds())
