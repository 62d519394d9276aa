"""``/v2/lbaas/pools``: Octavia's pools.

A pool belongs to a load balancer; created with ``listener_id`` it becomes
that listener's default pool (the listener must not have one yet: 409, and
must carry the pool's protocol: Octavia's matrix in ``_pool_checks``).
Deleting a pool takes its members and health monitor with it: all go
``PENDING_DELETE`` and the controller removes the rows. A pool an L7 policy
redirects to cannot be deleted (409), as in Octavia. The listeners whose
default pool it was lose it at once (``default_pool_id`` null), so the
configuration the controller renders never names a pool on its way out.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api import _pool_checks as checks
from tricircle_lb.loadbalancer.api import _tls_checks
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
    Description,
    Name,
    RequestBody,
    ServicesDep,
    Tags,
    authorize,
    authorize_list,
    check_quota,
    child_changed,
    ensure_mutable,
    get_scoped,
    ip_address,
    list_response,
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.certificates import CertificateManager
from tricircle_lb.loadbalancer.errors import invalid_option

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]

# Octavia's POOL_SUPPORTED_PROTOCOLS and SUPPORTED_LB_ALGORITHMS.
ProtocolName = Literal["HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2", "UDP", "SCTP"]
AlgorithmName = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"]
Ref = Annotated[str, Field(max_length=255)]
Alpn = Annotated[str, AfterValidator(_tls_checks.alpn_value)]
TlsVersion = Annotated[str, Field(max_length=32)]
TLS_FIELDS = ("tls_enabled", "tls_container_ref", "ca_tls_container_ref", "crl_container_ref",
              "tls_versions", "tls_ciphers", "alpn_protocols")


class SessionPersistence(RequestBody):
    type: Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
    cookie_name: str | None = Field(None, max_length=255, pattern=r"^[^\s,;\\]+$")
    persistence_timeout: int | None = None
    persistence_granularity: Annotated[str, AfterValidator(ip_address)] | None = None


class PoolCreate(RequestBody):
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    protocol: ProtocolName
    lb_algorithm: AlgorithmName
    loadbalancer_id: str | None = Field(None, max_length=36)
    listener_id: str | None = Field(None, max_length=36)
    session_persistence: SessionPersistence | None = None
    tls_enabled: bool = False
    tls_container_ref: Ref | None = None
    ca_tls_container_ref: Ref | None = None
    crl_container_ref: Ref | None = None
    tls_versions: list[TlsVersion] | None = None
    tls_ciphers: str | None = Field(None, max_length=2048)
    alpn_protocols: list[Alpn] | None = None
    # Accepted for compatibility; a pool always belongs to its load balancer's project.
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    tags: Tags = Field(default_factory=list)


class PoolUpdate(RequestBody):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    lb_algorithm: AlgorithmName | None = None
    session_persistence: SessionPersistence | None = None
    tls_enabled: bool | None = None
    tls_container_ref: Ref | None = None
    ca_tls_container_ref: Ref | None = None
    crl_container_ref: Ref | None = None
    tls_versions: list[TlsVersion] | None = None
    tls_ciphers: str | None = Field(None, max_length=2048)
    alpn_protocols: list[Alpn] | None = None
    tags: Tags | None = None


class PoolCreateBody(RequestBody):
    pool: PoolCreate


class PoolUpdateBody(RequestBody):
    pool: PoolUpdate


def _persistence(sp: SessionPersistence | None) -> dict[str, Any] | None:
    return sp.model_dump() if sp is not None else None


def _sp_given(sp: SessionPersistence | None) -> set[str]:
    return set(sp.model_fields_set) if sp is not None else set()


def listener_ids(session: Session, pool: models.Pool) -> list[str]:
    """Octavia's ``listeners`` of a pool: default pool of, or redirected to by L7."""
    ids = [li.id for li in pool.listeners]
    redirected = session.scalars(
        select(models.L7Policy.listener_id).where(
            models.L7Policy.redirect_pool_id == pool.id,
            models.L7Policy.provisioning_status != Status.PENDING_DELETE.value))
    return ids + [i for i in redirected if i not in ids]


def pool_view(session: Session, pool: models.Pool) -> Body:
    hm = pool.healthmonitor
    return {
        "id": pool.id, "project_id": pool.project_id,
        "name": pool.name, "description": pool.description,
        "admin_state_up": pool.admin_state_up,
        "provisioning_status": pool.provisioning_status,
        "operating_status": pool.operating_status,
        "protocol": pool.protocol, "lb_algorithm": pool.lb_algorithm,
        "session_persistence": pool.session_persistence,
        "loadbalancers": [{"id": pool.loadbalancer_id}],
        "listeners": [{"id": i} for i in listener_ids(session, pool)],
        "members": [{"id": m.id} for m in pool.members],
        "healthmonitor_id": hm.id if hm is not None else None,
        "tls_enabled": pool.tls_enabled, "tls_container_ref": pool.tls_container_ref,
        "ca_tls_container_ref": pool.ca_tls_container_ref,
        "crl_container_ref": pool.crl_container_ref, "tls_ciphers": pool.tls_ciphers,
        "tls_versions": pool.tls_versions, "alpn_protocols": pool.alpn_protocols,
        "tags": list(pool.tags or []),
        **timestamps(pool),
    }


@router.get("/v2/lbaas/pools", name="list_pools")
def list_pools(request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        pools = session.scalars(scoped_select(models.Pool, ctx)).all()
        return list_response(request, "pools", [pool_view(session, p) for p in pools])


@router.get("/v2/lbaas/pools/{pool_id}", name="show_pool")
def show_pool(pool_id: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        pool = get_scoped(session, models.Pool, pool_id, ctx, "Pool")
        return show(request, "pool", pool_view(session, pool))


def _target(session: Session, req: PoolCreate, ctx: Any) -> tuple[
        models.LoadBalancer, models.Listener | None]:
    """The load balancer the pool goes on, and the listener it is to serve, if any."""
    listener = None
    if req.listener_id is not None:
        listener = get_scoped(session, models.Listener, req.listener_id, ctx, "Listener")
    if req.loadbalancer_id is not None:
        lb = get_scoped(session, models.LoadBalancer, req.loadbalancer_id, ctx,
                        "Load Balancer")
        if listener is not None and listener.loadbalancer_id != lb.id:
            raise invalid_option(f"Listener {listener.id} is not on load balancer {lb.id}.")
        return lb, listener
    if listener is None:
        raise invalid_option("Must provide at least one of: loadbalancer_id, listener_id")
    return listener.loadbalancer, listener


@router.post("/v2/lbaas/pools", status_code=201, name="create_pool")
def create_pool(body: PoolCreateBody, ctx: CallerDep,
                svc: ServicesDep) -> Body:
    req = body.pool
    authorize(ctx, Action.WRITE)
    sp = _persistence(req.session_persistence)
    tls = {f: getattr(req, f) for f in TLS_FIELDS}
    with svc.db.write() as session:
        lb, listener = _target(session, req, ctx)
        if listener is not None:
            checks.check_listener_protocol(listener.protocol, req.protocol)
        checks.check_session_persistence(sp, req.protocol, _sp_given(req.session_persistence))
        check_quota(session, svc, lb.project_id, "pool")
        if listener is not None and listener.default_pool_id is not None:
            raise Conflict("This listener already has a default pool")
        ensure_mutable(lb)
        _check_tls_create(tls, svc.certificates, ctx.token)
        # The provider's own checks come last, as Octavia calls the driver last.
        checks.check_protocol(req.protocol)
        checks.check_algorithm(req.lb_algorithm)
        _tls_checks.check_alpn_protocols(tls["alpn_protocols"])
        pool = models.Pool(
            project_id=lb.project_id, loadbalancer_id=lb.id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            protocol=req.protocol, lb_algorithm=req.lb_algorithm, session_persistence=sp,
            operating_status=models.OperatingStatus.OFFLINE.value, tags=list(req.tags),
            **tls)
        session.add(pool)
        session.flush()
        if listener is not None:
            listener.default_pool_id = pool.id
        child_changed(session, svc, lb, pool, Status.PENDING_CREATE)
        session.refresh(pool)
        return {"pool": pool_view(session, pool)}


@router.put("/v2/lbaas/pools/{pool_id}", name="update_pool")
def update_pool(pool_id: str, body: PoolUpdateBody, ctx: CallerDep,
                svc: ServicesDep) -> Body:
    req = body.pool
    given = req.model_fields_set
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        pool = get_scoped(session, models.Pool, pool_id, ctx, "Pool")
        sp = _persistence(req.session_persistence)
        if "session_persistence" in given:
            checks.check_session_persistence(sp, pool.protocol,
                                             _sp_given(req.session_persistence))
        tls = _check_tls_update(pool, req, given, svc.certificates, ctx.token)
        ensure_mutable(pool.loadbalancer)
        if req.lb_algorithm is not None:
            checks.check_algorithm(req.lb_algorithm)
        _tls_checks.check_alpn_protocols(req.alpn_protocols)
        if "session_persistence" in given:
            pool.session_persistence = sp
        for field, value in tls.items():
            setattr(pool, field, value)
        for field in ("name", "description", "admin_state_up", "lb_algorithm", "tags"):
            value = getattr(req, field)
            if field in given and value is not None:
                setattr(pool, field, list(value) if field == "tags" else value)
            elif field in ("name", "description") and field in given:
                setattr(pool, field, "")
        child_changed(session, svc, pool.loadbalancer, pool, Status.PENDING_UPDATE)
        session.refresh(pool)
        return {"pool": pool_view(session, pool)}


@router.delete("/v2/lbaas/pools/{pool_id}", status_code=204, name="delete_pool")
def delete_pool(pool_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        pool = get_scoped(session, models.Pool, pool_id, ctx, "Pool")
        policy = session.scalars(select(models.L7Policy).where(
            models.L7Policy.redirect_pool_id == pool.id,
            models.L7Policy.provisioning_status != Status.PENDING_DELETE.value)).first()
        if policy is not None:
            raise Conflict(f"Pool {pool.id} is in use by L7 policy {policy.id}")
        ensure_mutable(pool.loadbalancer)
        _mark_pool_deleted(pool)
        child_changed(session, svc, pool.loadbalancer, pool, Status.PENDING_DELETE)
    return Response(status_code=204)


def _mark_pool_deleted(pool: models.Pool) -> None:
    """The pool's cascade: members and monitor go with it; listeners let go of it."""
    for member in pool.members:
        member.provisioning_status = Status.PENDING_DELETE.value
    if pool.healthmonitor is not None:
        pool.healthmonitor.provisioning_status = Status.PENDING_DELETE.value
    for listener in list(pool.listeners):
        listener.default_pool_id = None


def _check_tls_create(tls: dict[str, Any], certs: CertificateManager | None,
                      token: str | None) -> None:
    """Octavia's ``_validate_create_pool`` and its TLS defaults (stored, as Octavia does,
    when ``tls_enabled``)."""
    if tls["crl_container_ref"] and not tls["ca_tls_container_ref"]:
        raise invalid_option("A CA certificate reference is required to specify a "
                             "revocation list.")
    _tls_checks.check_refs(certs, [tls["tls_container_ref"]], token)
    if tls["ca_tls_container_ref"]:
        _tls_checks.check_ca_refs(certs, tls["ca_tls_container_ref"],
                                  tls["crl_container_ref"], token)
    _tls_checks.check_ciphers(tls["tls_ciphers"])
    if tls["tls_enabled"]:
        tls["tls_ciphers"] = tls["tls_ciphers"] or _tls_checks.DEFAULT_CIPHERS
        if tls["tls_versions"] is None:
            tls["tls_versions"] = list(_tls_checks.DEFAULT_TLS_VERSIONS)
        if tls["alpn_protocols"] is None:
            tls["alpn_protocols"] = list(_tls_checks.DEFAULT_ALPN_PROTOCOLS)
        _tls_checks.check_tls_versions(tls["tls_versions"])
        if tls["alpn_protocols"] == []:
            _tls_checks.check_alpn_protocols([])


# null resets these to Octavia's defaults (its pool ``_set_default_on_none``).
_TLS_DEFAULT_ON_NULL: dict[str, Any] = {
    "tls_enabled": False, "tls_ciphers": _tls_checks.DEFAULT_CIPHERS,
    "tls_versions": _tls_checks.DEFAULT_TLS_VERSIONS,
    "alpn_protocols": _tls_checks.DEFAULT_ALPN_PROTOCOLS,
}


def _check_tls_update(pool: models.Pool, req: PoolUpdate, given: set[str],
                      certs: CertificateManager | None, token: str | None) -> dict[str, Any]:
    """Octavia's ``_validate_pool_PUT`` for the TLS fields; the values to store."""
    crl = req.crl_container_ref if "crl_container_ref" in given else pool.crl_container_ref
    ca = pool.ca_tls_container_ref
    if "ca_tls_container_ref" in given:
        if not req.ca_tls_container_ref and ca and crl:
            raise invalid_option("A CA reference cannot be removed when a certificate "
                                 "revocation list is present.")
        if not req.ca_tls_container_ref and not ca and crl:
            raise invalid_option("A CA reference is required to specify a certificate "
                                 "revocation list.")
        ca = req.ca_tls_container_ref
    elif crl and not ca:
        raise invalid_option("A CA reference is required to specify a certificate "
                             "revocation list.")
    _tls_checks.check_refs(certs, [req.tls_container_ref], token)
    if ca:
        _tls_checks.check_ca_refs(certs, ca, crl, token)
    _tls_checks.check_ciphers(req.tls_ciphers)
    if "tls_versions" in given:
        _tls_checks.check_tls_versions(req.tls_versions)
    if "alpn_protocols" in given and req.alpn_protocols == []:
        _tls_checks.check_alpn_protocols([])
    result: dict[str, Any] = {}
    for field in TLS_FIELDS:
        if field not in given:
            continue
        value = getattr(req, field)
        default = _TLS_DEFAULT_ON_NULL.get(field)
        if value is None and default is not None:
            value = list(default) if isinstance(default, list) else default
        result[field] = value
    return result
