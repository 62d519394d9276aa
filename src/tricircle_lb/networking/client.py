"""A client of one region's Neutron v2.0 API, for other services.

``token=None`` calls as the calling service (its own admin token, renewed
once if it was refused); a caller's token calls on their behalf, so the
networking service's policy decides. Neutron's errors come back as the same
:class:`~tricircle_lb.common.errors.ApiError` (status, type, message), so what
networking said reaches the end user unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tricircle_lb.common.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from tricircle_lb.common.http import ServiceSession

Body = dict[str, Any]
_BY_STATUS: dict[int, type[ApiError]] = {400: BadRequest, 401: Unauthorized, 403: Forbidden,
                                         404: NotFound, 409: Conflict, 503: ServiceUnavailable}


def seg(value: str) -> str:
    """``value`` quoted as one URL path segment (ids come from callers' URLs)."""
    return quote(value, safe="")


class NeutronClient:
    def __init__(self, session: ServiceSession, region: str, label: str = "") -> None:
        self.session = session
        self.api_region = region
        self.label = label or f"networking of {region}"

    def request(self, method: str, path: str, token: str | None = None,
                body: Body | None = None, params: Any = None) -> Body:
        url = self.session.endpoint("network", self.api_region) + path
        for attempt in range(2):
            headers = {"X-Auth-Token": token or self.session.token()}
            try:
                resp = self.session.client.request(method, url, headers=headers, json=body,
                                                   params=params)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"{self.label} unreachable: {exc}") from exc
            if resp.status_code == 401 and token is None and attempt == 0:
                self.session.invalidate()
                continue
            break
        if resp.status_code >= 400:
            raise self._error(resp)
        return resp.json() if resp.content else {}

    def _error(self, resp: httpx.Response) -> ApiError:
        try:
            err = resp.json()["NeutronError"]
            kind, message, detail = err["type"], err["message"], err.get("detail", "")
        except (ValueError, KeyError, TypeError):
            kind, message, detail = "NetworkingError", resp.text[:500], ""
        cls = _BY_STATUS.get(resp.status_code)
        if cls is None:
            return ServiceUnavailable(f"{self.label} failed: {resp.status_code} {message}")
        return cls(message, kind=kind, detail=detail)
