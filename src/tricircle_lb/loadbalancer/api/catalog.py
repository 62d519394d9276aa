"""The small read-only catalogs: providers, availability zones and their
profiles (flavors live in flavors.py).

One provider (``amphora``) and one availability zone: the region's, from the
configuration.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    ServicesDep,
    authorize,
    list_response,
    show,
)
from tricircle_lb.loadbalancer.api.flavors import provider_name
from tricircle_lb.loadbalancer.errors import not_found

router = APIRouter(prefix="/v2/lbaas")

PROVIDERS = [{"name": "amphora",
              "description": "The Octavia Amphora driver: HAProxy in a service "
                             "namespace on a region host."}]
AZ_CAPABILITIES = [
    {"name": "compute_zone", "description": "The compute availability zone."},
    {"name": "management_network",
     "description": "The management network ID for the amphora."},
]


@router.get("/providers")
def list_providers(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    return list_response(request, "providers", PROVIDERS)


@router.get("/providers/{provider}/availability_zone_capabilities")
def availability_zone_capabilities(provider: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    provider_name(provider)
    return {"availability_zone_capabilities": AZ_CAPABILITIES}


def _zones(svc: ServicesDep) -> list[dict[str, Any]]:
    zone = svc.config.availability_zone
    return [{"name": zone, "description": f"The availability zone of {svc.config.region_name}",
             "enabled": True, "availability_zone_profile_id": None}] if zone else []


@router.get("/availabilityzones")
def list_availability_zones(request: Request, ctx: CallerDep,
                            svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    return list_response(request, "availability_zones", _zones(svc))


@router.get("/availabilityzones/{name}")
def show_availability_zone(name: str, request: Request, ctx: CallerDep,
                           svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    for zone in _zones(svc):
        if zone["name"] == name:
            return show(request, "availability_zone", zone)
    raise not_found("Availability Zone", name)


@router.get("/availabilityzoneprofiles")
def list_availability_zone_profiles(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    return list_response(request, "availability_zone_profiles", [])


@router.get("/availabilityzoneprofiles/{profile_id}")
def show_availability_zone_profile(profile_id: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    raise not_found("Availability Zone Profile", profile_id)
