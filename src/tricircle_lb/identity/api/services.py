"""``/v3/services`` and ``/v3/endpoints``: what the catalog is made of."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import (
    IdentityState,
    extra_of,
    flag,
    list_links,
    self_link,
    state,
    with_extra,
)
from tricircle_lb.identity.errors import invalid
from tricircle_lb.identity.models import Endpoint, Region, Service

router = APIRouter(prefix="/v3")

Text255 = Annotated[StrictStr, Field(min_length=1, max_length=255)]
Interface = Literal["public", "internal", "admin"]


class ServiceCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Text255
    name: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool = True


class ServiceUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Text255 | None = None
    name: StrictStr | None = None
    description: StrictStr | None = None
    enabled: StrictBool | None = None


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    interface: Interface
    service_id: StrictStr
    url: Annotated[StrictStr, Field(min_length=1)]
    region_id: StrictStr | None = None
    region: StrictStr | None = None
    enabled: StrictBool = True


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    interface: Interface | None = None
    service_id: StrictStr | None = None
    url: Annotated[StrictStr, Field(min_length=1)] | None = None
    region_id: StrictStr | None = None
    enabled: StrictBool | None = None


class ServiceCreateRequest(BaseModel):
    service: ServiceCreate


class ServiceUpdateRequest(BaseModel):
    service: ServiceUpdate


class EndpointCreateRequest(BaseModel):
    endpoint: EndpointCreate


class EndpointUpdateRequest(BaseModel):
    endpoint: EndpointUpdate


def service_view(request: Request, service: Service) -> dict[str, Any]:
    return with_extra(service.extra, {
        "id": service.id, "type": service.type, "name": service.name,
        "description": service.description, "enabled": service.enabled,
        "links": self_link(request, f"services/{service.id}"),
    })


def endpoint_view(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    return with_extra(endpoint.extra, {
        "id": endpoint.id, "interface": endpoint.interface, "region": endpoint.region_id,
        "region_id": endpoint.region_id, "service_id": endpoint.service_id,
        "url": endpoint.url, "enabled": endpoint.enabled,
        "links": self_link(request, f"endpoints/{endpoint.id}"),
    })


@router.post("/services", status_code=201)
def create_service(request: Request, body: ServiceCreateRequest, ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_service")
    spec = body.service
    with st.db.write() as session:
        service = Service(id=store.new_id(), type=spec.type, name=spec.name or "",
                          description=spec.description or "", enabled=spec.enabled,
                          extra=extra_of(spec))
        session.add(service)
        session.flush()
        return {"service": service_view(request, service)}


@router.get("/services")
def list_services(request: Request, type: str | None = None, name: str | None = None,
                  ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_services")
    query = select(Service).order_by(Service.type, Service.id)
    if type is not None:
        query = query.where(Service.type == type)
    if name is not None:
        query = query.where(Service.name == name)
    with st.db.read() as session:
        return {"services": [service_view(request, s) for s in session.scalars(query)],
                "links": list_links(request)}


@router.get("/services/{service_id}")
def show_service(request: Request, service_id: str, ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_service")
    with st.db.read() as session:
        return {"service": service_view(request, store.get(session, Service, service_id,
                                                           "service"))}


@router.patch("/services/{service_id}")
def update_service(request: Request, service_id: str, body: ServiceUpdateRequest,
                   ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_service")
    spec = body.service
    with st.db.write() as session:
        service = store.get(session, Service, service_id, "service")
        for name in ("type", "name", "description", "enabled"):
            value = getattr(spec, name)
            if value is not None:
                setattr(service, name, value)
        service.extra = extra_of(spec, service.extra, {"id": service.id})
        session.flush()
        return {"service": service_view(request, service)}


@router.delete("/services/{service_id}", status_code=204)
def delete_service(service_id: str, ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_service")
    with st.db.write() as session:
        service = store.get(session, Service, service_id, "service")
        session.execute(delete(Endpoint).where(Endpoint.service_id == service.id))
        session.delete(service)
    return Response(status_code=204)


def _check_refs(session: Session, service_id: str | None, region_id: str | None) -> None:
    if service_id is not None and session.get(Service, service_id) is None:
        raise invalid(f"Could not find service: {service_id}.")
    if region_id is not None and session.get(Region, region_id) is None:
        raise invalid(f"Could not find region: {region_id}.")


@router.post("/endpoints", status_code=201)
def create_endpoint(request: Request, body: EndpointCreateRequest,
                    ctx: Context = Depends(caller),
                    st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_endpoint")
    spec = body.endpoint
    with st.db.write() as session:
        region_id = spec.region_id
        if region_id is None and spec.region is not None:
            # As Keystone does for v2-style clients: a named region springs into being.
            region_id = spec.region
            if session.get(Region, region_id) is None:
                session.add(Region(id=region_id, description="", extra={}))
                session.flush()
        _check_refs(session, spec.service_id, region_id)
        endpoint = Endpoint(id=store.new_id(), interface=spec.interface,
                            service_id=spec.service_id, region_id=region_id, url=spec.url,
                            enabled=spec.enabled, extra=extra_of(spec))
        session.add(endpoint)
        session.flush()
        return {"endpoint": endpoint_view(request, endpoint)}


@router.get("/endpoints")
def list_endpoints(request: Request, service_id: str | None = None,
                   interface: str | None = None, region_id: str | None = None,
                   enabled: str | None = None, ctx: Context = Depends(caller),
                   st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "list_endpoints")
    query = select(Endpoint).order_by(Endpoint.region_id, Endpoint.service_id,
                                      Endpoint.interface)
    if service_id is not None:
        query = query.where(Endpoint.service_id == service_id)
    if interface is not None:
        query = query.where(Endpoint.interface == interface)
    if region_id is not None:
        query = query.where(Endpoint.region_id == region_id)
    if flag(enabled) is not None:
        query = query.where(Endpoint.enabled.is_(flag(enabled)))
    with st.db.read() as session:
        return {"endpoints": [endpoint_view(request, e) for e in session.scalars(query)],
                "links": list_links(request)}


@router.get("/endpoints/{endpoint_id}")
def show_endpoint(request: Request, endpoint_id: str, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "get_endpoint")
    with st.db.read() as session:
        return {"endpoint": endpoint_view(request, store.get(session, Endpoint, endpoint_id,
                                                             "endpoint"))}


@router.patch("/endpoints/{endpoint_id}")
def update_endpoint(request: Request, endpoint_id: str, body: EndpointUpdateRequest,
                    ctx: Context = Depends(caller),
                    st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_endpoint")
    spec = body.endpoint
    with st.db.write() as session:
        endpoint = store.get(session, Endpoint, endpoint_id, "endpoint")
        _check_refs(session, spec.service_id, spec.region_id)
        for name in ("interface", "service_id", "url", "enabled"):
            value = getattr(spec, name)
            if value is not None:
                setattr(endpoint, name, value)
        if "region_id" in spec.model_fields_set:
            endpoint.region_id = spec.region_id
        endpoint.extra = extra_of(spec, endpoint.extra, {"id": endpoint.id})
        session.flush()
        return {"endpoint": endpoint_view(request, endpoint)}


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, ctx: Context = Depends(caller),
                    st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_endpoint")
    with st.db.write() as session:
        session.delete(store.get(session, Endpoint, endpoint_id, "endpoint"))
    return Response(status_code=204)
