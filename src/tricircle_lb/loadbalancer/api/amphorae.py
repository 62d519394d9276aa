"""``/v2/octavia/amphorae`` (admin only): list, show, delete, failover, config, stats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from tricircle_lb.common.errors import Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    ServicesDep,
    authorize,
    ensure_mutable,
    iso,
    list_response,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.controller import handoff
from tricircle_lb.loadbalancer.errors import not_found
from tricircle_lb.loadbalancer.models import Amphora, AmphoraStatus

router = APIRouter(prefix="/v2/octavia/amphorae")
KIND = "Amphora"


def view(amp: Amphora) -> dict[str, Any]:
    return {
        "id": amp.id, "loadbalancer_id": amp.loadbalancer_id, "compute_id": amp.compute_id,
        "lb_network_ip": amp.lb_network_ip, "vrrp_ip": amp.vrrp_ip, "ha_ip": amp.ha_ip,
        "vrrp_port_id": amp.vrrp_port_id, "ha_port_id": amp.ha_port_id,
        "cert_expiration": iso(amp.cert_expiration), "cert_busy": amp.cert_busy,
        "role": amp.role, "status": amp.status, "vrrp_interface": amp.vrrp_interface,
        "vrrp_id": amp.vrrp_id, "vrrp_priority": amp.vrrp_priority,
        "cached_zone": amp.cached_zone, "image_id": amp.image_id,
        "compute_flavor": amp.compute_flavor, **timestamps(amp),
    }


def _get(session: Any, amphora_id: str) -> Amphora:
    amp = session.get(Amphora, amphora_id)
    if amp is None or amp.status == AmphoraStatus.DELETED:
        raise not_found(KIND, amphora_id)
    found: Amphora = amp
    return found


@router.get("")
def list_amphorae(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    with svc.db.read() as session:
        rows = session.scalars(select(Amphora).where(
            Amphora.status != AmphoraStatus.DELETED.value)).all()
        return list_response(request, "amphorae", [view(amp) for amp in rows])


@router.get("/{amphora_id}")
def show_amphora(amphora_id: str, request: Request, ctx: CallerDep,
                 svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    with svc.db.read() as session:
        return show(request, "amphora", view(_get(session, amphora_id)))


@router.delete("/{amphora_id}", status_code=204)
def delete_amphora(amphora_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    """Octavia's rule: only an amphora in ERROR may be deleted (else 409); it goes
    PENDING_DELETE and the controller removes its server and ports."""
    authorize(ctx, Action.ADMIN)
    with svc.db.write() as session:
        amp = _get(session, amphora_id)
        if amp.status != AmphoraStatus.ERROR:
            raise Conflict(f"amphora {amp.id} is immutable and cannot be updated.")
        amp.status = AmphoraStatus.PENDING_DELETE.value
        session.flush()
        handoff.delete_amphora(session, svc.queue, amp.id)
    return Response(status_code=204)


@router.put("/{amphora_id}/failover", status_code=202)
def failover_amphora(amphora_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.ADMIN)
    with svc.db.write() as session:
        amp = _get(session, amphora_id)
        lb = amp.loadbalancer
        if lb is not None:
            ensure_mutable(lb)
            lb.provisioning_status = models.ProvisioningStatus.PENDING_UPDATE.value
        session.flush()
        handoff.failover_amphora(session, svc.queue, amp.id,
                                 lb.project_id if lb is not None else "")
    return Response(status_code=202)


@router.put("/{amphora_id}/config", status_code=202)
def configure_amphora(amphora_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    """Push the configuration to the amphora again (the controller renders it
    from the database; nothing changes state)."""
    authorize(ctx, Action.ADMIN)
    with svc.db.write() as session:
        amp = _get(session, amphora_id)
        if amp.loadbalancer is not None:
            handoff.apply(session, svc.queue, amp.loadbalancer.id, amp.loadbalancer.project_id)
    return Response(status_code=202)


@router.get("/{amphora_id}/stats")
def amphora_stats(amphora_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.ADMIN)
    with svc.db.read() as session:
        amp = _get(session, amphora_id)
        rows = session.scalars(select(models.ListenerStatistics).where(
            models.ListenerStatistics.amphora_id == amp.id)).all()
        return {"amphora_stats": [
            {"id": amp.id, "loadbalancer_id": amp.loadbalancer_id,
             "listener_id": row.listener_id, "bytes_in": row.bytes_in,
             "bytes_out": row.bytes_out, "active_connections": row.active_connections,
             "total_connections": row.total_connections, "request_errors": row.request_errors}
            for row in rows]}
