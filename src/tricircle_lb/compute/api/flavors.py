"""``/v2.1/flavors`` and Nova's image proxy ``/v2.1/images`` (gone from 2.36, as in Nova)."""

from typing import Any

from fastapi import APIRouter, Depends, Request

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import NotFound
from tricircle_lb.compute import catalog, views
from tricircle_lb.compute.api import base_url
from tricircle_lb.compute.microversions import Version, requested

Json = dict[str, Any]


def _flavor(flavor_id: str) -> catalog.Flavor:
    for flavor in catalog.FLAVORS:
        if flavor.id == flavor_id:
            return flavor
    raise NotFound(f"Flavor {flavor_id} could not be found.", kind="FlavorNotFound")


def _listed(request: Request) -> list[catalog.Flavor]:
    flavors = list(catalog.FLAVORS)
    params = request.query_params
    for key, attr in (("minRam", "ram"), ("minDisk", "disk")):
        if params.get(key, "").isdigit():
            flavors = [f for f in flavors if getattr(f, attr) >= int(params[key])]
    flavors.sort(key=lambda f: f.id)  # Nova sorts by flavorid
    marker = params.get("marker")
    if marker:
        ids = [f.id for f in flavors]
        if marker not in ids:
            raise NotFound(f"Flavor {marker} could not be found.", kind="FlavorNotFound")
        flavors = flavors[ids.index(marker) + 1:]
    if params.get("limit", "").isdigit():
        flavors = flavors[:int(params["limit"])]
    return flavors


def _images_gone(version: Version) -> None:
    if version >= (2, 36):
        raise NotFound("The resource could not be found.")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v2.1")

    @router.get("/flavors")
    def list_flavors(request: Request, ctx: Context = Depends(caller),
                     version: Version = Depends(requested)) -> Json:
        base = base_url(request)
        return {"flavors": [views.flavor_brief(f, version, base) for f in _listed(request)]}

    @router.get("/flavors/detail")
    def list_flavors_detail(request: Request, ctx: Context = Depends(caller),
                            version: Version = Depends(requested)) -> Json:
        base = base_url(request)
        return {"flavors": [views.flavor(f, version, base) for f in _listed(request)]}

    @router.get("/flavors/{flavor_id}")
    def show_flavor(flavor_id: str, request: Request, ctx: Context = Depends(caller),
                    version: Version = Depends(requested)) -> Json:
        return {"flavor": views.flavor(_flavor(flavor_id), version, base_url(request))}

    @router.get("/flavors/{flavor_id}/os-extra_specs")
    def extra_specs(flavor_id: str, ctx: Context = Depends(caller)) -> Json:
        _flavor(flavor_id)
        return {"extra_specs": {}}

    @router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
    def extra_spec(flavor_id: str, key: str, ctx: Context = Depends(caller)) -> Json:
        _flavor(flavor_id)
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")

    @router.get("/images")
    def list_images(request: Request, ctx: Context = Depends(caller),
                    version: Version = Depends(requested)) -> Json:
        _images_gone(version)
        return {"images": [views.nova_image(i, base_url(request), detail=False)
                           for i in catalog.images(request.app.state.region)]}

    @router.get("/images/detail")
    def list_images_detail(request: Request, ctx: Context = Depends(caller),
                           version: Version = Depends(requested)) -> Json:
        _images_gone(version)
        return {"images": [views.nova_image(i, base_url(request))
                           for i in catalog.images(request.app.state.region)]}

    @router.get("/images/{image_id}")
    def show_image(image_id: str, request: Request, ctx: Context = Depends(caller),
                   version: Version = Depends(requested)) -> Json:
        _images_gone(version)
        image = catalog.find_image(request.app.state.region, image_id)
        if image is None:
            raise NotFound("Image not found.")
        return {"image": views.nova_image(image, base_url(request))}

    return router
