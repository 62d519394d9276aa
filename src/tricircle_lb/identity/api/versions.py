"""Version discovery: ``GET /`` (300) and ``GET /v3`` (200), as keystoneauth expects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tricircle_lb.identity.api.common import base_url

router = APIRouter()

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json",
                "type": "application/vnd.openstack.identity-v3+json"}]


def version(request: Request) -> dict[str, Any]:
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url(request)}/v3/"}],
        "media-types": MEDIA_TYPES,
    }


@router.get("/", include_in_schema=False)
def versions(request: Request) -> JSONResponse:
    return JSONResponse({"versions": {"values": [version(request)]}}, status_code=300)


@router.get("/v3")
@router.get("/v3/", include_in_schema=False)
def v3(request: Request) -> dict[str, Any]:
    return {"version": version(request)}
