"""A region's calls to central networking, as the caller or as the service itself."""

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


class CentralClient:
    """Neutron API of central. ``token=None`` calls as the service (admin).

    Central's errors come back as the same :class:`ApiError` (status, type,
    message), so a caller of the region sees exactly what central said.
    """

    def __init__(self, session: ServiceSession, central_region: str, region: str) -> None:
        self.session = session
        self.central_region = central_region
        self.region = region
        self._pod_id: str | None = None

    def request(self, method: str, path: str, token: str | None = None,
                body: Body | None = None, params: Any = None) -> Body:
        url = self.session.endpoint("network", self.central_region) + path
        for attempt in range(2):
            headers = {"X-Auth-Token": token or self.session.token()}
            try:
                resp = self.session.client.request(method, url, headers=headers, json=body,
                                                   params=params)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"central networking unreachable: {exc}") from exc
            if resp.status_code == 401 and token is None and attempt == 0:
                self.session.invalidate()
                continue
            break
        if resp.status_code >= 400:
            raise _error(resp)
        return resp.json() if resp.content else {}

    def pod_id(self) -> str:
        """This region's pod at central (registered by the deployment tool)."""
        if self._pod_id is None:
            for pod in self.request("GET", "/v1.0/pods")["pods"]:
                if pod["region_name"] == self.region:
                    self._pod_id = pod["pod_id"]
                    break
            else:
                raise ServiceUnavailable(f"region {self.region} is not registered as a pod "
                                         "at central networking")
        return self._pod_id

    def register(self, resource_type: str, resource_id: str, project_id: str) -> None:
        """Tell central this region now mirrors the resource (idempotent)."""
        self.request("POST", "/v1.0/routings", body={"routing": {
            "top_id": resource_id, "bottom_id": resource_id, "pod_id": self.pod_id(),
            "project_id": project_id, "resource_type": resource_type}})


def seg(value: str) -> str:
    """``value`` quoted as one URL path segment (ids come from callers' URLs)."""
    return quote(value, safe="")


def _error(resp: httpx.Response) -> ApiError:
    try:
        err = resp.json()["NeutronError"]
        kind, message, detail = err["type"], err["message"], err.get("detail", "")
    except (ValueError, KeyError, TypeError):
        kind, message, detail = "CentralError", resp.text[:500], ""
    cls = _BY_STATUS.get(resp.status_code)
    if cls is None:
        return ServiceUnavailable(f"central networking failed: {resp.status_code} {message}")
    return cls(message, kind=kind, detail=detail)
