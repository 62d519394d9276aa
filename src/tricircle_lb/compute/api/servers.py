"""``/v2.1/servers``: create, list, show, update, delete, metadata, actions, interfaces."""

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, NotFound
from tricircle_lb.compute import schemas
from tricircle_lb.compute.api import base_url, service_of
from tricircle_lb.compute.microversions import Version, requested

Json = dict[str, Any]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v2.1")

    @router.post("/servers", status_code=202)
    def create(body: schemas.ServerCreateBody, request: Request,
               ctx: Context = Depends(caller), version: Version = Depends(requested)) -> Json:
        return service_of(request).create(ctx, body, version, base_url(request))

    @router.get("/servers")
    def index(request: Request, ctx: Context = Depends(caller),
              version: Version = Depends(requested)) -> Json:
        return service_of(request).list_servers(ctx, request.query_params, version,
                                        base_url(request), detail=False)

    @router.get("/servers/detail")
    def detail(request: Request, ctx: Context = Depends(caller),
               version: Version = Depends(requested)) -> Json:
        return service_of(request).list_servers(ctx, request.query_params, version,
                                        base_url(request), detail=True)

    @router.get("/servers/{server_id}")
    def show(server_id: str, request: Request, ctx: Context = Depends(caller),
             version: Version = Depends(requested)) -> Json:
        return {"server": service_of(request).show(ctx, server_id, version, base_url(request))}

    @router.put("/servers/{server_id}")
    def update(server_id: str, body: schemas.ServerUpdateBody, request: Request,
               ctx: Context = Depends(caller), version: Version = Depends(requested)) -> Json:
        return {"server": service_of(request).update(ctx, server_id, body.server, version,
                                                     base_url(request))}

    @router.delete("/servers/{server_id}", status_code=204)
    def delete(server_id: str, request: Request, ctx: Context = Depends(caller)) -> Response:
        service_of(request).delete(ctx, server_id)
        return Response(status_code=204)

    @router.post("/servers/{server_id}/action")
    def action(server_id: str, request: Request, body: Json = Body(...),
               ctx: Context = Depends(caller)) -> Response:
        result = service_of(request).action(ctx, server_id, body)
        if result is None:
            return Response(status_code=202)
        return JSONResponse(result)

    # -- metadata --------------------------------------------------------------

    @router.get("/servers/{server_id}/metadata")
    def list_metadata(server_id: str, request: Request, ctx: Context = Depends(caller)) -> Json:
        return {"metadata": dict(service_of(request).load(ctx, server_id).meta or {})}

    @router.post("/servers/{server_id}/metadata")
    def merge_metadata(server_id: str, body: schemas.MetadataBody, request: Request,
                       ctx: Context = Depends(caller)) -> Json:
        return {"metadata": service_of(request).set_metadata(ctx, server_id, body.metadata,
                                                             replace=False)}

    @router.put("/servers/{server_id}/metadata")
    def replace_metadata(server_id: str, body: schemas.MetadataBody, request: Request,
                         ctx: Context = Depends(caller)) -> Json:
        return {"metadata": service_of(request).set_metadata(ctx, server_id, body.metadata,
                                                             replace=True)}

    @router.get("/servers/{server_id}/metadata/{key}")
    def show_meta(server_id: str, key: str, request: Request,
                  ctx: Context = Depends(caller)) -> Json:
        meta = service_of(request).load(ctx, server_id).meta or {}
        if key not in meta:
            raise NotFound("Metadata item was not found")
        return {"meta": {key: meta[key]}}

    @router.put("/servers/{server_id}/metadata/{key}")
    def set_meta(server_id: str, key: str, body: schemas.MetaItemBody, request: Request,
                 ctx: Context = Depends(caller)) -> Json:
        if list(body.meta) != [key]:
            raise BadRequest("Request body and URI mismatch" if len(body.meta) == 1
                             else "Request body contains too many items")
        service_of(request).set_metadata(ctx, server_id, body.meta, replace=False)
        return {"meta": body.meta}

    @router.delete("/servers/{server_id}/metadata/{key}", status_code=204)
    def delete_meta(server_id: str, key: str, request: Request,
                    ctx: Context = Depends(caller)) -> Response:
        service_of(request).delete_metadata(ctx, server_id, key)
        return Response(status_code=204)

    # -- interfaces --------------------------------------------------------------

    @router.get("/servers/{server_id}/os-interface")
    def list_interfaces(server_id: str, request: Request, ctx: Context = Depends(caller),
                        version: Version = Depends(requested)) -> Json:
        service_of(request).refresh_interfaces(server_id)
        return {"interfaceAttachments": request.app.state.interfaces.attached(ctx, server_id,
                                                                          version)}

    @router.get("/servers/{server_id}/os-interface/{port_id}")
    def show_interface(server_id: str, port_id: str, request: Request,
                       ctx: Context = Depends(caller),
                       version: Version = Depends(requested)) -> Json:
        return {"interfaceAttachment": request.app.state.interfaces.show(ctx, server_id,
                                                                         port_id, version)}

    @router.post("/servers/{server_id}/os-interface")
    def attach(server_id: str, body: schemas.InterfaceAttachmentBody, request: Request,
               ctx: Context = Depends(caller), version: Version = Depends(requested)) -> Json:
        return {"interfaceAttachment": request.app.state.interfaces.attach(
            ctx, server_id, body.interfaceAttachment, version)}

    @router.delete("/servers/{server_id}/os-interface/{port_id}", status_code=202)
    def detach(server_id: str, port_id: str, request: Request,
               ctx: Context = Depends(caller)) -> Response:
        request.app.state.interfaces.detach(ctx, server_id, port_id)
        return Response(status_code=202)

    # -- the host agent ------------------------------------------------------------

    @router.put("/os-host-agent/servers/{server_id}")
    def agent_report(server_id: str, body: schemas.AgentReportBody, request: Request,
                     ctx: Context = Depends(caller),
                     version: Version = Depends(requested)) -> Json:
        return {"server": service_of(request).agent_report(ctx, server_id, body.server,
                                                           version, base_url(request))}

    return router
