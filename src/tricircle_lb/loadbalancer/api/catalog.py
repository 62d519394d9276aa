"""The small read-only catalogs: providers, flavors, flavor profiles,
availability zones and their profiles.

One provider (``amphora``), no flavors (``flavor_id`` on a load balancer is
refused), and one availability zone: the region's, from the configuration.
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
from tricircle_lb.loadbalancer.errors import invalid_option, not_found

router = APIRouter(prefix="/v2/lbaas")

PROVIDERS = [{"name": "amphora",
              "description": "The Octavia Amphora driver: HAProxy in a service "
                             "namespace on a region host."}]
FLAVOR_CAPABILITIES = [
    {"name": "loadbalancer_topology",
     "description": "The load balancer topology. One of: SINGLE - One amphora per load "
                    "balancer. ACTIVE_STANDBY - Two amphora per load balancer."},
    {"name": "compute_flavor", "description": "The compute driver flavor ID."},
    {"name": "amp_image_tag", "description": "The amphora image tag."},
]
AZ_CAPABILITIES = [
    {"name": "compute_zone", "description": "The compute availability zone."},
    {"name": "management_network",
     "description": "The management network ID for the amphora."},
]


def _provider(name: str) -> None:
    if name not in ("amphora", "octavia"):
        raise invalid_option(f"Provider '{name}' is not enabled.")


@router.get("/providers")
def list_providers(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    return list_response(request, "providers", PROVIDERS)


@router.get("/providers/{provider}/flavor_capabilities")
def flavor_capabilities(provider: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    _provider(provider)
    return {"flavor_capabilities": FLAVOR_CAPABILITIES}


@router.get("/providers/{provider}/availability_zone_capabilities")
def availability_zone_capabilities(provider: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    _provider(provider)
    return {"availability_zone_capabilities": AZ_CAPABILITIES}


@router.get("/flavors")
def list_flavors(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    return list_response(request, "flavors", [])


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    raise not_found("Flavor", flavor_id)


@router.get("/flavorprofiles")
def list_flavor_profiles(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    return list_response(request, "flavorprofiles", [])


@router.get("/flavorprofiles/{profile_id}")
def show_flavor_profile(profile_id: str, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    raise not_found("Flavor profile", profile_id)


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
