"""The small read-only catalog of providers and their availability zone
capabilities (flavors live in flavors.py, zones in availability_zones.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    authorize,
    list_response,
)
from tricircle_lb.loadbalancer.api.flavors import capabilities, provider_name

router = APIRouter(prefix="/v2/lbaas")

# Octavia's default enabled_provider_drivers.
PROVIDERS = [{"name": "amphora", "description": "The Octavia Amphora driver."},
             {"name": "octavia", "description": "Deprecated alias of the Octavia Amphora "
                                                "driver."}]
# Octavia's amphora availability zone schema.
AZ_CAPABILITIES = [
    {"name": "compute_zone", "description": "The compute availability zone."},
    {"name": "volume_zone", "description": "The volume availability zone."},
    {"name": "management_network",
     "description": "The management network ID for the amphora."},
    {"name": "valid_vip_networks",
     "description": "List of network IDs that are allowed for VIP use. This "
                    "overrides/replaces the list of allowed networks configured in "
                    "`octavia.conf`."},
]


@router.get("/providers")
def list_providers(request: Request, ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    return list_response(request, "providers", PROVIDERS)


@router.get("/providers/{provider}/availability_zone_capabilities")
def availability_zone_capabilities(provider: str, request: Request,
                                   ctx: CallerDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    provider_name(provider)
    return {"availability_zone_capabilities": capabilities(request, AZ_CAPABILITIES)}
