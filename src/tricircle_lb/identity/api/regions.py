"""``/v3/regions``: region ids are chosen by the caller (``RegionOne``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden
from tricircle_lb.identity import policy, store
from tricircle_lb.identity.api.common import (
    IdentityState,
    extra_of,
    list_links,
    self_link,
    state,
    with_extra,
)
from tricircle_lb.identity.errors import duplicate, invalid
from tricircle_lb.identity.models import Endpoint, Region

router = APIRouter(prefix="/v3/regions")

RegionId = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class RegionCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: RegionId | None = None
    description: StrictStr | None = None
    parent_region_id: StrictStr | None = None


class RegionUpdate(BaseModel):
    model_config = ConfigDict(extra="allow")

    description: StrictStr | None = None
    parent_region_id: StrictStr | None = None


class RegionCreateRequest(BaseModel):
    region: RegionCreate


class RegionUpdateRequest(BaseModel):
    region: RegionUpdate


def region_view(request: Request, region: Region) -> dict[str, Any]:
    return with_extra(region.extra, {
        "id": region.id, "description": region.description,
        "parent_region_id": region.parent_region_id,
        "links": self_link(request, f"regions/{region.id}"),
    })


def _check_parent(session: Session, region_id: str, parent_id: str | None) -> None:
    seen = {region_id}
    while parent_id:
        if parent_id in seen:
            raise invalid(f"Circular reference or a repeated entry found in region tree - "
                          f"{parent_id}.")
        parent = session.get(Region, parent_id)
        if parent is None:
            raise invalid(f"Could not find region: {parent_id}.")
        seen.add(parent_id)
        parent_id = parent.parent_region_id


def _create(request: Request, session: Session, region_id: str, spec: RegionCreate) -> Region:
    if session.get(Region, region_id) is not None:
        raise duplicate("region", f"Duplicate ID, {region_id}")
    _check_parent(session, region_id, spec.parent_region_id)
    region = Region(id=region_id, description=spec.description or "",
                    parent_region_id=spec.parent_region_id, extra=extra_of(spec))
    session.add(region)
    session.flush()
    return region


@router.post("", status_code=201)
def create_region(request: Request, body: RegionCreateRequest, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_region")
    with st.db.write() as session:
        region = _create(request, session, body.region.id or store.new_id(), body.region)
        return {"region": region_view(request, region)}


@router.put("/{region_id}", status_code=201)
def create_region_with_id(request: Request, region_id: str, body: RegionCreateRequest,
                          ctx: Context = Depends(caller),
                          st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "create_region")
    if body.region.id is not None and body.region.id != region_id:
        raise invalid("Conflicting region IDs specified: "
                      f'"{region_id}" != "{body.region.id}"')
    with st.db.write() as session:
        return {"region": region_view(request, _create(request, session, region_id,
                                                       body.region))}


@router.get("")
def list_regions(request: Request, parent_region_id: str | None = None,
                 _ctx: Context = Depends(caller),
                 st: IdentityState = Depends(state)) -> dict[str, Any]:
    query = select(Region).order_by(Region.id)
    if parent_region_id is not None:
        query = query.where(Region.parent_region_id == parent_region_id)
    with st.db.read() as session:
        return {"regions": [region_view(request, r) for r in session.scalars(query)],
                "links": list_links(request)}


@router.get("/{region_id}")
def show_region(request: Request, region_id: str, _ctx: Context = Depends(caller),
                st: IdentityState = Depends(state)) -> dict[str, Any]:
    with st.db.read() as session:
        return {"region": region_view(request, store.get(session, Region, region_id, "region"))}


@router.patch("/{region_id}")
def update_region(request: Request, region_id: str, body: RegionUpdateRequest,
                  ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> dict[str, Any]:
    policy.enforce(ctx, "update_region")
    spec = body.region
    with st.db.write() as session:
        region = store.get(session, Region, region_id, "region")
        if "parent_region_id" in spec.model_fields_set:
            _check_parent(session, region.id, spec.parent_region_id)
            region.parent_region_id = spec.parent_region_id
        if spec.description is not None:
            region.description = spec.description
        region.extra = extra_of(spec, region.extra, {"id": region.id})
        session.flush()
        return {"region": region_view(request, region)}


@router.delete("/{region_id}", status_code=204)
def delete_region(region_id: str, ctx: Context = Depends(caller),
                  st: IdentityState = Depends(state)) -> Response:
    policy.enforce(ctx, "delete_region")
    with st.db.write() as session:
        region = store.get(session, Region, region_id, "region")
        busy = (session.scalars(select(Endpoint.id).where(Endpoint.region_id == region.id))
                .first() or session.scalars(select(Region.id).where(
                    Region.parent_region_id == region.id)).first())
        if busy:
            raise Forbidden(f"Unable to delete region {region.id} because it or its child "
                            "regions have associated endpoints.")
        session.delete(region)
    return Response(status_code=204)
