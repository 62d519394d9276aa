"""Routes of Neutron's LBaaS v2 extension (``/v2.0/lbaas/…``), each handed to Octavia.

One factory makes the five routes of every collection (list, show, create,
update, delete) so each resource behaves alike; a load balancer adds
``statuses`` and ``stats``. Objects keep Octavia's ids: what this API creates
is what ``openstack loadbalancer show`` shows.
"""
# No `from __future__ import annotations`: FastAPI reads the handlers' annotations.

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.networking.client import seg
from tricircle_lb.networking.lbaas import resources, translate
from tricircle_lb.networking.lbaas.client import OctaviaClient
from tricircle_lb.networking.lbaas.resources import Kind

Json = dict[str, Any]
PREFIX = "/v2.0/lbaas"


def octavia(request: Request) -> OctaviaClient:
    client: OctaviaClient = request.app.state.lbaas
    return client


def add_collection(router: APIRouter, kind: Kind, parent: str = "") -> None:
    """Routes for ``kind``; below ``/<parent>/{parent_id}/`` when it is a sub-resource."""
    where = f"/{parent}/{{parent_id}}/{kind.collection}" if parent else f"/{kind.collection}"

    def octavia_path(request: Request) -> str:
        if not parent:
            return f"/{kind.collection}"
        return f"/{parent}/{seg(request.path_params['parent_id'])}/{kind.collection}"

    def fields_of(request: Request) -> list[str]:
        return translate.list_query(request.query_params.multi_items())[1]

    @router.get(PREFIX + where, name=f"lbaas_list_{kind.collection}")
    def list_all(request: Request, ctx: Context = Depends(caller)) -> Json:
        query, fields = translate.list_query(request.query_params.multi_items())
        found = octavia(request).request("GET", octavia_path(request), ctx.token, params=query)
        result: Json = {kind.collection: [translate.to_neutron(kind, obj, fields)
                                          for obj in found.get(kind.collection, [])]}
        links = translate.page_links(found.get(f"{kind.collection}_links"), str(request.url))
        if links:
            result[f"{kind.collection}_links"] = links
        return result

    @router.get(PREFIX + where + "/{resource_id}", name=f"lbaas_show_{kind.member}")
    def show(resource_id: str, request: Request, ctx: Context = Depends(caller)) -> Json:
        found = octavia(request).request(
            "GET", f"{octavia_path(request)}/{seg(resource_id)}", ctx.token)
        return {kind.member: translate.to_neutron(kind, found[kind.member], fields_of(request))}

    @router.post(PREFIX + where, status_code=201, name=f"lbaas_create_{kind.member}")
    def create(request: Request, payload: Any = Body(None),
               ctx: Context = Depends(caller)) -> Json:
        body = translate.to_octavia(kind, payload, creating=True)
        made = octavia(request).request("POST", octavia_path(request), ctx.token, body=body)
        return {kind.member: translate.to_neutron(kind, made[kind.member])}

    @router.put(PREFIX + where + "/{resource_id}", name=f"lbaas_update_{kind.member}")
    def update(resource_id: str, request: Request, payload: Any = Body(None),
               ctx: Context = Depends(caller)) -> Json:
        body = translate.to_octavia(kind, payload, creating=False)
        changed = octavia(request).request(
            "PUT", f"{octavia_path(request)}/{seg(resource_id)}", ctx.token, body=body)
        return {kind.member: translate.to_neutron(kind, changed[kind.member])}

    @router.delete(PREFIX + where + "/{resource_id}", status_code=204,
                   name=f"lbaas_delete_{kind.member}")
    def delete(resource_id: str, request: Request, ctx: Context = Depends(caller)) -> Response:
        octavia(request).request("DELETE", f"{octavia_path(request)}/{seg(resource_id)}",
                                 ctx.token)
        return Response(status_code=204)


def build_router() -> APIRouter:
    router = APIRouter()
    lbs = f"{PREFIX}/{resources.LOADBALANCER.collection}"

    @router.get(lbs + "/{lb_id}/statuses", name="lbaas_loadbalancer_statuses")
    def loadbalancer_statuses(lb_id: str, request: Request,
                              ctx: Context = Depends(caller)) -> Json:
        tree = octavia(request).request("GET", f"/loadbalancers/{seg(lb_id)}/status",
                                        ctx.token)
        return {"statuses": translate.statuses(tree.get("statuses", {}))}

    @router.get(lbs + "/{lb_id}/stats", name="lbaas_loadbalancer_stats")
    def loadbalancer_stats(lb_id: str, request: Request, ctx: Context = Depends(caller)) -> Json:
        return translate.stats(octavia(request).request(
            "GET", f"/loadbalancers/{seg(lb_id)}/stats", ctx.token))

    for kind in (resources.LOADBALANCER, resources.LISTENER, resources.POOL,
                 resources.HEALTHMONITOR, resources.L7POLICY):
        add_collection(router, kind)
    add_collection(router, resources.MEMBER, parent=resources.POOL.collection)
    add_collection(router, resources.L7RULE, parent=resources.L7POLICY.collection)
    return router
