"""The region's load-balancer service (Octavia v2), called on behalf of a Neutron client.

The caller's own token goes with every call, so Octavia's policy and project
scoping decide exactly as if the caller had used Octavia's API. Octavia's
faults (``{"faultcode", "faultstring", "debuginfo"}``) come back as one
:class:`LoadBalancerServiceError` carrying Octavia's status code and
faultstring, which networking's error handler renders as a ``NeutronError``;
so "network not located in current region" reaches this API's users too.
"""

from __future__ import annotations

from typing import Any

import httpx

from tricircle_lb.common.errors import ApiError, ServiceUnavailable
from tricircle_lb.common.http import ServiceSession

Body = dict[str, Any]
SERVICE_TYPE = "load-balancer"

# Neutron's names for the errors a plugin raises, by status.
_KINDS = {400: "BadRequest", 401: "NotAuthorized", 403: "NotAuthorized", 404: "NotFound",
          409: "Conflict", 413: "OverQuota", 503: "ServiceUnavailable"}


class LoadBalancerServiceError(ApiError):
    """What Octavia refused or failed, with Octavia's status code."""

    def __init__(self, status_code: int, message: str, detail: str = "") -> None:
        super().__init__(message, kind=_KINDS.get(status_code, "DriverError"), detail=detail)
        self.status_code = status_code


class OctaviaClient:
    def __init__(self, session: ServiceSession, region: str) -> None:
        self.session = session
        self.region = region

    def base_url(self) -> str:
        """``…/v2/lbaas`` of the region's endpoint (Octavia's catalog URL is unversioned)."""
        url = self.session.endpoint(SERVICE_TYPE, self.region).rstrip("/")
        if not url.endswith(("/v2", "/v2.0")):
            url += "/v2"
        return url + "/lbaas"

    def request(self, method: str, path: str, token: str, body: Body | None = None,
                params: list[tuple[str, str]] | None = None) -> Body:
        """``method`` on ``path`` (below ``/v2/lbaas``); the JSON answer, ``{}`` if none."""
        url = self.base_url() + path
        try:
            resp = self.session.client.request(method, url, json=body,
                                               params=tuple(params or ()),
                                               headers={"X-Auth-Token": token})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"load-balancer service of {self.region} unreachable: {exc}") from exc
        if resp.status_code >= 400:
            raise _fault(resp)
        return resp.json() if resp.content else {}


def _fault(resp: httpx.Response) -> LoadBalancerServiceError:
    try:
        fault = resp.json()
        message = str(fault["faultstring"])
        debug = fault.get("debuginfo")
    except (ValueError, KeyError, TypeError):
        message, debug = resp.text[:500] or resp.reason_phrase, None
    return LoadBalancerServiceError(resp.status_code, message,
                                    debug if isinstance(debug, str) else "")
