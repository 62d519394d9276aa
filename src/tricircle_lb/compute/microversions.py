"""Microversions as Nova negotiates them, and Nova's and Glance's version documents.

A request under ``/v2.1`` may ask for a version with ``OpenStack-API-Version:
compute X.Y`` or the older ``X-OpenStack-Nova-API-Version: X.Y`` (``latest``
means the maximum); without either it gets the minimum, 2.1. The answer
echoes the version in both headers and says ``Vary`` on them. A malformed
version is a 400, one outside [MIN, MAX] a 406.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from tricircle_lb.common.app import ASGIApp, Receive, Scope, Send
from tricircle_lb.compute.errors import nova_body

Version = tuple[int, int]
MIN_VERSION: Version = (2, 1)
MAX_VERSION: Version = (2, 79)
HEADER = "openstack-api-version"
LEGACY_HEADER = "x-openstack-nova-api-version"
_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
UPDATED = "2013-07-23T11:33:21Z"


def text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


class VersionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse(headers: dict[str, str]) -> Version:
    """The version a request asks for (headers with lower-case names)."""
    raw: str | None = None
    modern = headers.get(HEADER)
    if modern is not None:
        for item in modern.split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == "compute":
                raw = value.strip()
    if raw is None:
        raw = headers.get(LEGACY_HEADER)
    if raw is None or raw == "":
        return MIN_VERSION
    if raw.lower() == "latest":
        return MAX_VERSION
    match = _FORMAT.match(raw)
    if not match:
        raise VersionError(400, f"API Version String {raw} is of invalid format. Must be of "
                                "format MajorNum.MinorNum.")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VersionError(406, f"Version {raw} is not supported by the API. Minimum is "
                                f"{text(MIN_VERSION)} and maximum is {text(MAX_VERSION)}.")
    return version


def requested(request: Request) -> Version:
    """FastAPI dependency: the negotiated microversion of this request."""
    version: Version = request.scope.get("compute_version", MIN_VERSION)
    return version


class MicroversionMiddleware:
    """Pure ASGI: negotiates the version of ``/v2.1`` requests and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v2.1" or path.startswith("/v2.1/")):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        try:
            version = parse(headers)
        except VersionError as exc:
            body = json.dumps(nova_body(exc.status, exc.message)).encode()
            await send({"type": "http.response.start", "status": exc.status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        scope["compute_version"] = version
        echo = [(b"openstack-api-version", f"compute {text(version)}".encode()),
                (b"x-openstack-nova-api-version", text(version).encode()),
                (b"vary", b"OpenStack-API-Version, X-OpenStack-Nova-API-Version")]

        async def send_with_version(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *echo]
            await send(message)

        await self.app(scope, receive, send_with_version)


def nova_v21(base_url: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": text(MAX_VERSION),
        "min_version": text(MIN_VERSION),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url}/v2.1/"},
                  {"rel": "describedby", "type": "text/html",
                   "href": "http://docs.openstack.org/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }


def nova_v20(base_url: str) -> dict[str, Any]:
    return {
        "id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{base_url}/v2/"},
                  {"rel": "describedby", "type": "text/html",
                   "href": "http://docs.openstack.org/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2"}],
    }


GLANCE_VERSIONS = ("2.17", "2.16", "2.15", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2",
                   "2.1", "2.0")


def glance_versions(image_url: str) -> list[dict[str, Any]]:
    """Glance's version list: the newest CURRENT, the rest SUPPORTED, all at ``/v2/``."""
    return [{"id": f"v{v}", "status": "CURRENT" if i == 0 else "SUPPORTED",
             "links": [{"rel": "self", "href": f"{image_url}/v2/"}]}
            for i, v in enumerate(GLANCE_VERSIONS)]
