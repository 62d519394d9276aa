"""Version discovery: Nova's at ``/`` and ``/v2.1``, Glance's at ``/image``."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tricircle_lb.compute.api import base_url
from tricircle_lb.compute.microversions import glance_versions, nova_v20, nova_v21

Body = dict[str, Any]


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def nova_versions(request: Request) -> Body:
        base = base_url(request)
        return {"versions": [nova_v20(base), nova_v21(base)]}

    @router.get("/v2.1")
    @router.get("/v2.1/")
    def nova_version(request: Request) -> Body:
        return {"version": nova_v21(base_url(request))}

    @router.get("/v2")
    @router.get("/v2/")
    def nova_legacy_version(request: Request) -> Body:
        return {"version": nova_v20(base_url(request))}

    @router.get("/image")
    @router.get("/image/")
    def glance_root(request: Request) -> JSONResponse:
        # Glance answers its unversioned root with 300 Multiple Choices.
        versions = glance_versions(base_url(request) + "/image")
        return JSONResponse({"versions": versions}, status_code=300)

    @router.get("/image/versions")
    def glance_version_list(request: Request) -> Body:
        return {"versions": glance_versions(base_url(request) + "/image")}

    return router
