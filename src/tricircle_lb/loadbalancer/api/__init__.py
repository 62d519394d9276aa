"""Octavia's v2 API: one module per resource, assembled here."""

from __future__ import annotations

from fastapi import APIRouter

from tricircle_lb.loadbalancer.api import (
    amphorae,
    availability_zones,
    catalog,
    flavors,
    healthmonitors,
    l7policies,
    l7rules,
    listeners,
    loadbalancers,
    members,
    pools,
    quotas,
    root,
)

RESOURCES = (root, loadbalancers, listeners, pools, members, healthmonitors, l7policies,
             l7rules, amphorae, quotas, catalog, flavors, availability_zones)


def build_router() -> APIRouter:
    router = APIRouter()
    for module in RESOURCES:
        router.include_router(module.router)
    return router
