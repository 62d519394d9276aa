"""Glance v2 ``/image/v2/images``: list (with Glance's filters) and show."""

from typing import Any

from fastapi import APIRouter, Depends, Request

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, NotFound
from tricircle_lb.compute import catalog, views

Json = dict[str, Any]
CONTROL = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status"}


def _matches(image: Json, key: str, wanted: str) -> bool:
    value = image.get(key)
    if wanted.startswith("in:"):
        return str(value) in wanted[3:].split(",")
    if key == "visibility" and wanted == "all":
        return True
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


def build_router() -> APIRouter:
    router = APIRouter(prefix="/image/v2")

    @router.get("/images")
    def list_images(request: Request, ctx: Context = Depends(caller)) -> Json:
        params = request.query_params
        images = [views.glance_image(i) for i in catalog.images(request.app.state.region)]
        for tag in params.getlist("tag"):
            images = [i for i in images if tag in i["tags"]]
        for key, value in params.multi_items():
            if key in CONTROL or key == "tag":
                continue
            images = [i for i in images if _matches(i, key, value)]
        if params.get("os_hidden", "false").lower() != "true":
            images = [i for i in images if not i["os_hidden"]]
        images.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
        marker = params.get("marker")
        if marker:
            ids = [i["id"] for i in images]
            if marker not in ids:
                raise BadRequest(f"Invalid marker. Image {marker} could not be found.")
            images = images[ids.index(marker) + 1:]
        body: Json = {"schema": "/v2/schemas/images", "first": "/v2/images"}
        limit = params.get("limit")
        if limit is not None:
            if not limit.isdigit():
                raise BadRequest("limit param must be an integer")
            if len(images) > int(limit):
                images = images[:int(limit)]
                body["next"] = f"/v2/images?marker={images[-1]['id']}&limit={limit}"
        body["images"] = images
        return body

    @router.get("/images/{image_id}")
    def show_image(image_id: str, request: Request, ctx: Context = Depends(caller)) -> Json:
        image = catalog.find_image(request.app.state.region, image_id)
        if image is None or image.id != image_id:
            raise NotFound(f"No image found with ID {image_id}")
        return views.glance_image(image)

    @router.get("/schemas/image")
    def image_schema(ctx: Context = Depends(caller)) -> Json:
        return {"name": "image", "properties": {}, "additionalProperties": {"type": "string"}}

    return router
