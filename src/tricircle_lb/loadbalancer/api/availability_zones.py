"""Octavia's availability zones: ``/v2/lbaas/availabilityzoneprofiles`` (admin)
and ``/v2/lbaas/availabilityzones`` (admin writes, any member or reader reads).

The region's own zone (``[loadbalancer] availability_zone``) is always listed
and always usable. An operator may name more zones; the amphora provider's
profile settings are Octavia's schema, of which only ``compute_zone`` naming
the region's zone is built here: every amphora of a region runs in its one
compute zone. Other settings are the provider's unsupported option (501),
never accepted and ignored (decision 081).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer.api._profiles import (
    ProfileKind,
    add_profile_routes,
    delete_unless_used,
    get_or_404,
    used_by_load_balancers,
    uuid_text,
)
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    RequestBody,
    Services,
    ServicesDep,
    authorize,
    list_response,
    show,
)
from tricircle_lb.loadbalancer.api.flavors import provider_name
from tricircle_lb.loadbalancer.errors import invalid_option, not_found, unsupported_option
from tricircle_lb.loadbalancer.models import (
    AvailabilityZone,
    AvailabilityZoneProfile,
    LoadBalancer,
)

__all__ = ["check_zone", "router"]

router = APIRouter(prefix="/v2/lbaas")
PROFILE_KIND = "Availability Zone Profile"
ZONE_KIND = "Availability Zone"
_SCHEMA = ("compute_zone", "volume_zone", "management_network", "valid_vip_networks")


Text255 = Annotated[str, Field(max_length=255)]
Uuid = Annotated[str, AfterValidator(uuid_text)]


class ZoneCreate(RequestBody):
    name: Text255
    description: Text255 | None = None
    enabled: bool = True
    availability_zone_profile_id: Uuid


class ZoneUpdate(RequestBody):
    description: Text255 | None = None
    enabled: bool | None = None


class ZoneCreateRequest(RequestBody):
    availability_zone: ZoneCreate


class ZoneUpdateRequest(RequestBody):
    availability_zone: ZoneUpdate


def _check_data(text: str, provider: str, region_zone: str) -> None:
    """Octavia's order: the JSON (400), the provider (400), its schema (501)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(f"{text} is not a valid option for availability_zone_data") from None
    canonical = provider_name(provider)
    if not isinstance(data, dict):
        raise unsupported_option(f"{data!r} is not of type 'object'", canonical)
    unknown = sorted(set(data) - set(_SCHEMA))
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise unsupported_option(f"Additional properties are not allowed ({names} {verb} "
                                 "unexpected)", canonical)
    for key, value in data.items():
        wanted = list if key == "valid_vip_networks" else str
        if not isinstance(value, wanted):
            kind = "array" if wanted is list else "string"
            raise unsupported_option(f"{key} {value!r} is not of type '{kind}'", canonical)
        if key != "compute_zone":
            raise unsupported_option(f"{key} is not supported by this deployment's amphora "
                                     "provider", canonical)
        if value != region_zone:
            raise unsupported_option(f"compute_zone {value!r}: the amphorae of this region "
                                     f"run in compute zone {region_zone!r} only", canonical)


# -- what load balancer create asks -----------------------------------------

def check_zone(session: Session, name: str, region_zone: str) -> None:
    """Octavia's ``_validate_availability_zone`` for a new load balancer."""
    if name == region_zone:
        return
    zone = session.get(AvailabilityZone, name)
    if zone is None:
        raise invalid_option("Invalid availability zone.")
    if not zone.enabled:
        raise BadRequest(f"The selected availability_zone is not allowed in this "
                         f"deployment: {name}")


# -- profiles ---------------------------------------------------------------

PROFILES = ProfileKind(
    model=AvailabilityZoneProfile, kind=PROFILE_KIND, key="availability_zone_profile",
    collection="availability_zone_profiles", path="/availabilityzoneprofiles",
    data="availability_zone_data", used_by=AvailabilityZone.availability_zone_profile_id,
    check=lambda text, provider, svc: _check_data(text, provider, _region_zone(svc)))
add_profile_routes(router, PROFILES)


# -- zones ------------------------------------------------------------------

def _region_zone(svc: Services) -> str:
    return svc.config.availability_zone


def zone_view(zone: AvailabilityZone) -> dict[str, Any]:
    return {"name": zone.name, "description": zone.description, "enabled": zone.enabled,
            "availability_zone_profile_id": zone.availability_zone_profile_id}


def _builtin(svc: Services) -> list[dict[str, Any]]:
    zone = _region_zone(svc)
    return [{"name": zone, "description": f"The availability zone of {svc.config.region_name}",
             "enabled": True, "availability_zone_profile_id": None}] if zone else []


@router.get("/availabilityzones")
def list_zones(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        views = _builtin(svc) + [zone_view(z) for z in session.scalars(select(AvailabilityZone))]
    return list_response(request, "availability_zones", views)


@router.get("/availabilityzones/{name}")
def show_zone(name: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    for zone in _builtin(svc):
        if zone["name"] == name:
            return show(request, "availability_zone", zone)
    with svc.db.read() as session:
        found = get_or_404(session, AvailabilityZone, ZONE_KIND, name)
        return show(request, "availability_zone", zone_view(found))


@router.post("/availabilityzones", status_code=201)
def create_zone(body: ZoneCreateRequest, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    req = body.availability_zone
    with svc.db.write() as session:
        if session.get(AvailabilityZoneProfile, req.availability_zone_profile_id) is None:
            raise not_found(PROFILE_KIND, req.availability_zone_profile_id)
        taken = session.get(AvailabilityZone, req.name) is not None
        if taken or req.name == _region_zone(svc):
            raise Conflict(f"A availability zone of {req.name} already exists.")
        zone = AvailabilityZone(name=req.name, description=req.description,
                                enabled=req.enabled,
                                availability_zone_profile_id=req.availability_zone_profile_id)
        session.add(zone)
        session.flush()
        return {"availability_zone": zone_view(zone)}


@router.put("/availabilityzones/{name}")
def update_zone(name: str, body: ZoneUpdateRequest, ctx: CallerDep,
                svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    changes = body.availability_zone.model_dump(exclude_unset=True)
    with svc.db.write() as session:
        zone = get_or_404(session, AvailabilityZone, ZONE_KIND, name)
        for field, value in changes.items():
            if field == "enabled" and value is None:
                raise BadRequest("None is not a valid option for enabled")
            setattr(zone, field, value)
        session.flush()
        return {"availability_zone": zone_view(zone)}


@router.delete("/availabilityzones/{name}", status_code=204)
def delete_zone(name: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.ADMIN)
    return delete_unless_used(svc, AvailabilityZone, ZONE_KIND, name,
                              used_by_load_balancers(LoadBalancer.availability_zone, name))
