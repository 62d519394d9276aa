"""The service catalog carried in scoped tokens and served at ``/v3/auth/catalog``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.identity.models import Endpoint, Service


def build_catalog(session: Session) -> list[dict[str, Any]]:
    """Enabled services with their enabled endpoints, as Keystone renders them."""
    services = session.scalars(select(Service).where(Service.enabled.is_(True))
                               .order_by(Service.type, Service.id)).all()
    endpoints = session.scalars(select(Endpoint).where(Endpoint.enabled.is_(True))
                                .order_by(Endpoint.region_id, Endpoint.interface)).all()
    catalog = []
    for service in services:
        catalog.append({
            "endpoints": [
                {"id": ep.id, "interface": ep.interface, "region": ep.region_id,
                 "region_id": ep.region_id, "url": ep.url}
                for ep in endpoints if ep.service_id == service.id
            ],
            "id": service.id,
            "type": service.type,
            "name": service.name,
        })
    return catalog
