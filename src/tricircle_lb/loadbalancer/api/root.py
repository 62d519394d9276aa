"""Version discovery, as Octavia answers it (no token needed).

Clients such as python-octaviaclient compare the newest version here with
the version a feature needs (tags 2.5, allowed CIDRs 2.12, availability
zones 2.14 …), so the list goes up to the Octavia API version whose
features this service covers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter()

LATEST = 27
UPDATED = "2016-12-11T00:00:00Z"


def _version(request: Request, minor: int) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {"id": f"v2.{minor}", "status": "CURRENT" if minor == LATEST else "SUPPORTED",
            "updated": UPDATED, "links": [{"href": f"{base}/v2/", "rel": "self"}]}


@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request, minor) for minor in range(LATEST + 1)]}


@router.get("/v2")
@router.get("/v2/")
@router.get("/v2.0")
@router.get("/v2.0/")
def v2_root(request: Request) -> dict[str, Any]:
    return {"version": _version(request, LATEST)}
