"""Routes of the four mirrored resources and of security group rules.

The routes are made by one factory so every resource behaves alike: list
(with Neutron's filters, fields, sorting and pagination), show (with
``fields=``), create (201), update, delete (204), and the tag sub-resource.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the functions made below.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.networking import schemas
from tricircle_lb.networking.errors import not_found
from tricircle_lb.networking.listing import list_response
from tricircle_lb.networking.plugin import Plugin

Body = dict[str, Any]


def plugin_of(request: Request) -> Plugin:
    result: Plugin = request.app.state.plugin
    return result


def _fields(request: Request, body: Body) -> Body:
    fields = [f for f in request.query_params.getlist("fields") if f]
    return {k: v for k, v in body.items() if k in fields} if fields else body


def add_resource(router: APIRouter, collection: str, member: str, create_model: Any,
                 update_model: Any | None) -> None:
    """Routes for ``/v2.0/<collection>`` whose bodies are keyed by ``member``."""
    attr = member
    plural_key = collection.replace("-", "_")

    def method(plugin: Plugin, verb: str) -> Callable[..., Any]:
        name = f"list_{plural_key}" if verb == "list" else f"{verb}_{attr}"
        fn: Callable[..., Any] = getattr(plugin, name)
        return fn

    @router.get(f"/v2.0/{collection}", name=f"list_{collection}")
    def list_all(request: Request, ctx: Context = Depends(caller)) -> Body:
        items = method(plugin_of(request), "list")(ctx, request.query_params)
        return list_response(plural_key, items, request.query_params, request.url)

    @router.get(f"/v2.0/{collection}/{{resource_id}}", name=f"show_{member}")
    def show(resource_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        return {member: _fields(request, method(plugin_of(request), "get")(ctx, resource_id))}

    @router.post(f"/v2.0/{collection}", status_code=201, name=f"create_{member}")
    def create(body: create_model, request: Request,
               ctx: Context = Depends(caller)) -> Body:
        return {member: method(plugin_of(request), "create")(ctx, getattr(body, member))}

    if update_model is not None:
        @router.put(f"/v2.0/{collection}/{{resource_id}}", name=f"update_{member}")
        def update(resource_id: str, body: update_model,  # type: ignore[valid-type]
                   request: Request, ctx: Context = Depends(caller)) -> Body:
            result = method(plugin_of(request), "update")(ctx, resource_id,
                                                          getattr(body, member))
            return {member: result}

    @router.delete(f"/v2.0/{collection}/{{resource_id}}", status_code=204,
                   name=f"delete_{member}")
    def delete(resource_id: str, request: Request, ctx: Context = Depends(caller)) -> Response:
        method(plugin_of(request), "delete")(ctx, resource_id)
        return Response(status_code=204)

    if update_model is None:
        return

    @router.get(f"/v2.0/{collection}/{{resource_id}}/tags", name=f"list_{member}_tags")
    def list_tags(resource_id: str, request: Request, ctx: Context = Depends(caller)) -> Body:
        return {"tags": method(plugin_of(request), "get")(ctx, resource_id)["tags"]}

    @router.put(f"/v2.0/{collection}/{{resource_id}}/tags", name=f"replace_{member}_tags")
    def replace_tags(resource_id: str, body: schemas.TagsBody, request: Request,
                     ctx: Context = Depends(caller)) -> Body:
        return {"tags": plugin_of(request).set_tags(ctx, collection, resource_id, body.tags)}

    @router.put(f"/v2.0/{collection}/{{resource_id}}/tags/{{tag}}", status_code=201,
                name=f"add_{member}_tag")
    def add_tag(resource_id: str, tag: str, request: Request,
                ctx: Context = Depends(caller)) -> Response:
        plugin = plugin_of(request)
        tags = method(plugin, "get")(ctx, resource_id)["tags"]
        plugin.set_tags(ctx, collection, resource_id, [*tags, tag])
        return Response(status_code=201)

    @router.get(f"/v2.0/{collection}/{{resource_id}}/tags/{{tag}}", status_code=204,
                name=f"check_{member}_tag")
    def check_tag(resource_id: str, tag: str, request: Request,
                  ctx: Context = Depends(caller)) -> Response:
        if tag not in method(plugin_of(request), "get")(ctx, resource_id)["tags"]:
            raise not_found("tag", tag)
        return Response(status_code=204)

    @router.delete(f"/v2.0/{collection}/{{resource_id}}/tags/{{tag}}", status_code=204,
                   name=f"remove_{member}_tag")
    def remove_tag(resource_id: str, tag: str, request: Request,
                   ctx: Context = Depends(caller)) -> Response:
        plugin = plugin_of(request)
        tags = method(plugin, "get")(ctx, resource_id)["tags"]
        if tag not in tags:
            raise not_found("tag", tag)
        plugin.set_tags(ctx, collection, resource_id, [t for t in tags if t != tag])
        return Response(status_code=204)

    @router.delete(f"/v2.0/{collection}/{{resource_id}}/tags", status_code=204,
                   name=f"remove_{member}_tags")
    def remove_all_tags(resource_id: str, request: Request,
                        ctx: Context = Depends(caller)) -> Response:
        plugin_of(request).set_tags(ctx, collection, resource_id, [])
        return Response(status_code=204)


def build_router() -> APIRouter:
    router = APIRouter()
    add_resource(router, "networks", "network", schemas.NetworkCreateBody,
                 schemas.NetworkUpdateBody)
    add_resource(router, "subnets", "subnet", schemas.SubnetCreateBody,
                 schemas.SubnetUpdateBody)
    add_resource(router, "ports", "port", schemas.PortCreateBody, schemas.PortUpdateBody)
    add_resource(router, "security-groups", "security_group",
                 schemas.SecurityGroupCreateBody, schemas.SecurityGroupUpdateBody)
    add_resource(router, "security-group-rules", "security_group_rule",
                 schemas.SecurityGroupRuleCreateBody, None)
    return router
