"""``/v2/lbaas/listeners``: CRUD and stats.

Octavia's protocols: HTTP, HTTPS (pass-through), TCP, TERMINATED_HTTPS, UDP
and PROMETHEUS; SCTP is refused as a provider's unsupported option (501,
decision 081). TLS fields (certificate references, client authentication,
versions, ciphers, ALPN, HSTS) as Octavia checks them (``_tls_checks``);
Octavia's TLS defaults are stored on TERMINATED_HTTPS listeners.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api import _pool_checks, _tls_checks
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
    list_response,
    owning_project,
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.api.loadbalancers import stats_of
from tricircle_lb.loadbalancer.certificates import CertificateManager
from tricircle_lb.loadbalancer.errors import invalid_option, not_a_valid_option, not_found
from tricircle_lb.loadbalancer.models import Listener, LoadBalancer, Pool, ProvisioningStatus

router = APIRouter(prefix="/v2/lbaas/listeners")

KIND = "Listener"
# Octavia's LISTENER_SUPPORTED_PROTOCOLS.
PROTOCOLS = ("HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS")
HTTP_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")
SSL_HEADERS = ("X-SSL-Client-Verify", "X-SSL-Client-Has-Cert", "X-SSL-Client-DN",
               "X-SSL-Client-CN", "X-SSL-Issuer", "X-SSL-Client-SHA1",
               "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After")
HEADER_PROTOCOLS = ("HTTP", "TERMINATED_HTTPS")
# Octavia's MAX_TIMEOUT (24 days in ms) and the database's integer.
Timeout = Annotated[int, Field(ge=0, le=24 * 24 * 60 * 60 * 1000)]
Port = Annotated[int, Field(ge=1, le=65535)]
ConnectionLimit = Annotated[int, Field(ge=-1, le=2147483647)]
Cidr = Annotated[str, Field(max_length=64)]
Ref = Annotated[str, Field(max_length=255)]
Alpn = Annotated[str, AfterValidator(_tls_checks.alpn_value)]
ClientAuth = Literal["NONE", "OPTIONAL", "MANDATORY"]
HstsAge = Annotated[int, Field(ge=0, le=2147483647)]
TIMEOUTS = ("timeout_client_data", "timeout_member_connect", "timeout_member_data",
            "timeout_tcp_inspect")
TLS_FIELDS = ("default_tls_container_ref", "sni_container_refs", "client_authentication",
              "client_ca_tls_container_ref", "client_crl_container_ref", "tls_ciphers",
              "tls_versions", "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
              "hsts_preload")


class ListenerCreate(RequestBody):
    loadbalancer_id: str
    protocol: str
    protocol_port: Port
    name: Name = ""
    description: Description = ""
    admin_state_up: bool = True
    project_id: str | None = Field(default=None, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)
    connection_limit: ConnectionLimit | None = -1
    default_pool_id: str | None = None
    insert_headers: dict[str, Annotated[str, Field(max_length=255)]] | None = None
    # null: Octavia's [haproxy_amphora] defaults (prepare.create_listener).
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    allowed_cidrs: list[Cidr] | None = None
    tags: Tags = Field(default_factory=list)
    default_tls_container_ref: Ref | None = None
    sni_container_refs: list[Ref] | None = None
    client_authentication: ClientAuth = "NONE"
    client_ca_tls_container_ref: Ref | None = None
    client_crl_container_ref: Ref | None = None
    tls_ciphers: str | None = Field(None, max_length=2048)
    tls_versions: list[Annotated[str, Field(max_length=32)]] | None = None
    alpn_protocols: list[Alpn] | None = None
    hsts_max_age: HstsAge | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False


class ListenerUpdate(RequestBody):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: bool | None = None
    connection_limit: ConnectionLimit | None = None
    default_pool_id: str | None = None
    insert_headers: dict[str, str] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    allowed_cidrs: list[Cidr] | None = None
    tags: Tags | None = None
    default_tls_container_ref: Ref | None = None
    sni_container_refs: list[Ref] | None = None
    client_authentication: ClientAuth | None = None
    client_ca_tls_container_ref: Ref | None = None
    client_crl_container_ref: Ref | None = None
    tls_ciphers: str | None = Field(None, max_length=2048)
    tls_versions: list[Annotated[str, Field(max_length=32)]] | None = None
    alpn_protocols: list[Alpn] | None = None
    hsts_max_age: HstsAge | None = None
    hsts_include_subdomains: bool | None = None
    hsts_preload: bool | None = None


class CreateRequest(RequestBody):
    listener: ListenerCreate


class UpdateRequest(RequestBody):
    listener: ListenerUpdate


def view(listener: Listener) -> dict[str, Any]:
    return {
        "id": listener.id, "name": listener.name, "description": listener.description,
        "provisioning_status": listener.provisioning_status,
        "operating_status": listener.operating_status,
        "admin_state_up": listener.admin_state_up, "project_id": listener.project_id,
        "protocol": listener.protocol, "protocol_port": listener.protocol_port,
        "connection_limit": listener.connection_limit,
        "default_tls_container_ref": listener.default_tls_container_ref,
        "sni_container_refs": list(listener.sni_container_refs or []),
        "default_pool_id": listener.default_pool_id,
        "l7policies": [{"id": policy.id} for policy in listener.l7policies],
        "insert_headers": dict(listener.insert_headers),
        "loadbalancers": [{"id": listener.loadbalancer_id}],
        "timeout_client_data": listener.timeout_client_data,
        "timeout_member_connect": listener.timeout_member_connect,
        "timeout_member_data": listener.timeout_member_data,
        "timeout_tcp_inspect": listener.timeout_tcp_inspect,
        "allowed_cidrs": list(listener.allowed_cidrs) or None,
        "client_authentication": listener.client_authentication,
        "client_ca_tls_container_ref": listener.client_ca_tls_container_ref,
        "client_crl_container_ref": listener.client_crl_container_ref,
        "tls_ciphers": listener.tls_ciphers, "tls_versions": listener.tls_versions,
        "alpn_protocols": listener.alpn_protocols, "hsts_max_age": listener.hsts_max_age,
        "hsts_include_subdomains": listener.hsts_include_subdomains,
        "hsts_preload": listener.hsts_preload,
        "tags": list(listener.tags), **timestamps(listener),
    }


@router.get("")
def list_listeners(request: Request, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        rows = session.scalars(scoped_select(Listener, ctx)).all()
        return list_response(request, "listeners", [view(listener) for listener in rows])


@router.get("/{listener_id}")
def show_listener(listener_id: str, request: Request, ctx: CallerDep,
                  svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        return show(request, "listener",
                    view(get_scoped(session, Listener, listener_id, ctx, KIND)))


@router.get("/{listener_id}/stats")
def listener_stats(listener_id: str, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        return {"stats": stats_of(session, [listener.id])}


@router.post("", status_code=201)
def create_listener(body: CreateRequest, ctx: CallerDep, svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    req = body.listener
    explicit = req.project_id or req.tenant_id
    owning_project(ctx, explicit)  # 403 for a non-admin naming another project
    protocol = _protocol(req.protocol)
    tls = {name: getattr(req, name) for name in TLS_FIELDS}
    with svc.db.write() as session:
        lb = get_scoped(session, LoadBalancer, req.loadbalancer_id, ctx, "Load Balancer")
        if explicit and explicit != lb.project_id:
            raise invalid_option("project_id must be the load balancer's project.")
        check_quota(session, svc, lb.project_id, "listener")
        if req.default_pool_id is not None:
            _check_default_pool(session, lb, protocol, req.default_pool_id, None)
        ensure_mutable(lb)
        headers = _insert_headers(protocol, req.insert_headers or {})
        _check_tls_create(protocol, tls, bool(req.insert_headers), svc.certificates,
                          ctx.token)
        _check_port_free(session, lb.id, protocol, req.protocol_port)
        cidrs = _allowed_cidrs(lb, req.allowed_cidrs)
        if protocol == "TERMINATED_HTTPS":
            # Octavia's defaults, stored (prepare.create_listener).
            defaults = {"tls_ciphers": _tls_checks.DEFAULT_CIPHERS,
                        "tls_versions": list(_tls_checks.DEFAULT_TLS_VERSIONS),
                        "alpn_protocols": list(_tls_checks.DEFAULT_ALPN_PROTOCOLS)}
            for name, default in defaults.items():
                if tls[name] is None:
                    tls[name] = default
            _tls_checks.check_tls_versions(tls["tls_versions"])
            if tls["alpn_protocols"] == []:
                _tls_checks.check_alpn_protocols([])
        _tls_checks.check_hsts(tls, protocol)
        # The provider's own checks come last, as Octavia calls the driver last.
        _pool_checks.check_protocol(protocol)
        _tls_checks.check_alpn_protocols(tls["alpn_protocols"])
        tls["sni_container_refs"] = list(tls["sni_container_refs"] or [])
        listener = Listener(
            loadbalancer_id=lb.id, project_id=lb.project_id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            protocol=protocol, protocol_port=req.protocol_port,
            connection_limit=-1 if req.connection_limit is None else req.connection_limit,
            default_pool_id=req.default_pool_id, insert_headers=headers,
            **{name: _DEFAULT_ON_NULL[name] if getattr(req, name) is None
               else getattr(req, name) for name in TIMEOUTS},
            allowed_cidrs=cidrs,
            operating_status=models.OperatingStatus.OFFLINE.value, tags=list(req.tags),
            **tls)
        session.add(listener)
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_CREATE)
        session.refresh(listener)
        return {"listener": view(listener)}


# null resets these to Octavia's defaults (its ``_set_default_on_none``).
_DEFAULT_ON_NULL: dict[str, Any] = {
    "connection_limit": -1, "timeout_client_data": 50000, "timeout_member_connect": 5000,
    "timeout_member_data": 50000, "timeout_tcp_inspect": 0, "client_authentication": "NONE",
    "tls_ciphers": _tls_checks.DEFAULT_CIPHERS,
    "tls_versions": _tls_checks.DEFAULT_TLS_VERSIONS,
    "alpn_protocols": _tls_checks.DEFAULT_ALPN_PROTOCOLS,
    "hsts_include_subdomains": False, "hsts_preload": False,
}


@router.put("/{listener_id}")
def update_listener(listener_id: str, body: UpdateRequest, ctx: CallerDep,
                    svc: ServicesDep) -> dict[str, Any]:
    authorize(ctx, Action.WRITE)
    changes = body.listener.model_dump(exclude_unset=True)
    for name in ("admin_state_up", "tags"):
        if name in changes and changes[name] is None:
            raise BadRequest(f"Invalid input for field/attribute {name}. Value: 'None'.")
    with svc.db.write() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        lb = listener.loadbalancer
        _check_tls_update(listener, changes, svc.certificates, ctx.token)
        if changes.get("insert_headers"):
            _insert_headers(listener.protocol, changes["insert_headers"])
        if "allowed_cidrs" in changes:
            changes["allowed_cidrs"] = _allowed_cidrs(lb, changes["allowed_cidrs"])
        for name, default in _DEFAULT_ON_NULL.items():
            if name in changes and changes[name] is None:
                changes[name] = list(default) if isinstance(default, list) else default
        for name in ("name", "description"):
            if name in changes and changes[name] is None:
                changes[name] = ""
        if "insert_headers" in changes and changes["insert_headers"] is None:
            changes["insert_headers"] = {}
        if "sni_container_refs" in changes and changes["sni_container_refs"] is None:
            changes["sni_container_refs"] = []
        if changes.get("default_pool_id") is not None:
            _check_default_pool(session, lb, listener.protocol, changes["default_pool_id"],
                                listener.id)
        ensure_mutable(lb)
        _tls_checks.check_alpn_protocols(changes.get("alpn_protocols"))
        for name, value in changes.items():
            setattr(listener, name, value)
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_UPDATE)
        session.refresh(listener)
        return {"listener": view(listener)}


@router.delete("/{listener_id}", status_code=204)
def delete_listener(listener_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        listener = get_scoped(session, Listener, listener_id, ctx, KIND)
        lb = listener.loadbalancer
        ensure_mutable(lb)
        # Its L7 policies and their rules go with it (the controller removes the rows).
        for policy in listener.l7policies:
            policy.provisioning_status = ProvisioningStatus.PENDING_DELETE.value
            for rule in policy.rules:
                rule.provisioning_status = ProvisioningStatus.PENDING_DELETE.value
        child_changed(session, svc, lb, listener, ProvisioningStatus.PENDING_DELETE)
    return Response(status_code=204)


def _protocol(value: str) -> str:
    if value not in PROTOCOLS:
        raise BadRequest(f"Invalid input for field/attribute protocol. Value: '{value}'. "
                         f"Value should be one of: {', '.join(PROTOCOLS)}")
    return value


def _has_refs(tls: dict[str, Any]) -> bool:
    """Octavia's ``_has_tls_container_refs``."""
    return bool(tls.get("default_tls_container_ref") or tls.get("client_ca_tls_container_ref")
                or tls.get("sni_container_refs"))


def _check_tls_create(protocol: str, tls: dict[str, Any], headers: bool,
                      certs: CertificateManager | None, token: str | None) -> None:
    """Octavia's ``_validate_create_listener`` for the TLS fields, in its order."""
    offload = protocol == "TERMINATED_HTTPS" or (protocol == "PROMETHEUS" and _has_refs(tls))
    named = tls["default_tls_container_ref"] or tls["sni_container_refs"]
    if protocol in _pool_checks.LVS_PROTOCOLS and (_has_refs(tls) or headers):
        raise invalid_option(f"{protocol} protocol listener does not support TLS.")
    if not offload and _has_refs(tls):
        raise invalid_option(f"Certificate container references are not allowed on "
                             f"{protocol} protocol listeners.")
    if tls["client_ca_tls_container_ref"] and not named:
        raise invalid_option("An SNI or default certificate container reference must be "
                             "provided with a client CA container reference.")
    if offload and not named:
        shown = f"{protocol} with TLS" if protocol == "PROMETHEUS" else protocol
        raise invalid_option(f"An SNI or default certificate container reference must be "
                             f"provided for {shown} protocol listeners.")
    if tls["client_authentication"] != "NONE" and not tls["client_ca_tls_container_ref"]:
        raise invalid_option(f"Client authentication setting {tls['client_authentication']} "
                             f"requires a client CA container reference.")
    if tls["client_crl_container_ref"] and not tls["client_ca_tls_container_ref"]:
        raise invalid_option("A client authentication CA reference is required to specify "
                             "a client authentication revocation list.")
    _tls_checks.check_ciphers(tls["tls_ciphers"])
    _tls_checks.check_refs(certs, [*(tls["sni_container_refs"] or []),
                            tls["default_tls_container_ref"]], token)
    _tls_checks.check_ca_refs(certs, tls["client_ca_tls_container_ref"],
                              tls["client_crl_container_ref"], token)


def _check_tls_update(listener: Listener, changes: dict[str, Any],
                      certs: CertificateManager | None, token: str | None) -> None:
    """Octavia's ``_validate_listener_PUT`` for the TLS fields, in its order."""
    protocol = listener.protocol
    offload = protocol == "TERMINATED_HTTPS" or (protocol == "PROMETHEUS" and _has_refs(changes))
    if protocol in _pool_checks.LVS_PROTOCOLS and (_has_refs(changes)
                                                   or changes.get("insert_headers")):
        raise invalid_option(f"{protocol} protocol listener does not support TLS or header "
                             f"insertion.")
    if not offload and _has_refs(changes):
        raise invalid_option(f"Certificate container references are not allowed on "
                             f"{protocol} protocol listeners.")
    auth = changes.get("client_authentication")
    ca = changes.get("client_ca_tls_container_ref") or listener.client_ca_tls_container_ref
    if auth not in (None, "NONE") and not ca:
        raise invalid_option(f"Client authentication setting {auth} requires a client CA "
                             f"container reference.")
    _tls_checks.check_refs(certs, [*(changes.get("sni_container_refs") or []),
                            changes.get("default_tls_container_ref")], token)
    crl = changes.get("client_crl_container_ref") or listener.client_crl_container_ref
    if crl and not ca:
        raise invalid_option("A client authentication CA reference is required to specify "
                             "a client authentication revocation list.")
    if ca or crl:
        _tls_checks.check_ca_refs(certs, ca, crl, token)
    _tls_checks.check_ciphers(changes.get("tls_ciphers"))
    if "tls_versions" in changes:
        _tls_checks.check_tls_versions(changes["tls_versions"])
    # Octavia's check_hsts_options_put.
    age_unset = listener.hsts_max_age is None and changes.get("hsts_max_age") is None
    if (changes.get("hsts_include_subdomains") or changes.get("hsts_preload")) and age_unset:
        raise invalid_option("Cannot enable hsts_include_subdomains or hsts_preload if "
                             "hsts_max_age was not set as well.")
    if isinstance(changes.get("hsts_max_age"), int) and protocol != "TERMINATED_HTTPS":
        raise invalid_option("The HSTS feature can only be used for listeners using the "
                             "TERMINATED_HTTPS protocol.")


def _insert_headers(protocol: str, headers: dict[str, str]) -> dict[str, str]:
    """Octavia's ``_validate_insert_headers``: HTTP and TERMINATED_HTTPS listeners
    only, Octavia's header names, the client-certificate ones on TERMINATED_HTTPS."""
    if not headers:
        return {}
    if protocol not in HEADER_PROTOCOLS:
        raise not_a_valid_option("insert-headers", f"a {protocol} protocol listener.")
    names = list(headers)
    if set(names) - set(HTTP_HEADERS + SSL_HEADERS):
        raise not_a_valid_option(names, "insert_headers")
    ssl = [name for name in names if name in SSL_HEADERS]
    if protocol != "TERMINATED_HTTPS" and ssl:
        raise not_a_valid_option(ssl, f"{protocol} protocol listener.")
    return dict(headers)


def _allowed_cidrs(lb: LoadBalancer, cidrs: list[str] | None) -> list[str]:
    if not cidrs:
        return []
    vips = [v for v in [lb.vip_address, *(a.get("ip_address") for a in lb.additional_vips or [])]
            if v]
    result: list[str] = []
    for text in cidrs:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise BadRequest(f"Invalid input for field/attribute allowed_cidrs. "
                             f"Value: '{text}'. Value should be IPv4 or IPv6 CIDR format") \
                from exc
        if vips and all(network.version != ipaddress.ip_address(v).version for v in vips):
            raise invalid_option(f"CIDR {network.with_prefixlen} IP version incompatible with "
                                 f"all VIPs {vips} IP version.")
        if network.with_prefixlen not in result:
            result.append(network.with_prefixlen)
    return result


# Octavia's L4_PROTOCOL_MAP: listeners of one L4 protocol share the port space.
_L4 = {"UDP": "UDP", "SCTP": "SCTP"}


def _check_port_free(session: Session, lb_id: str, protocol: str, port: int) -> None:
    others = session.scalars(select(Listener).where(Listener.loadbalancer_id == lb_id,
                                                    Listener.protocol_port == port)).all()
    for other in others:
        if _L4.get(other.protocol, "TCP") == _L4.get(protocol, "TCP"):
            raise Conflict(f"Another Listener on this Load Balancer is already using "
                           f"protocol {other.protocol} and protocol_port {port}")


def _check_default_pool(session: Session, lb: LoadBalancer, protocol: str, pool_id: str,
                        listener_id: str | None) -> None:
    if protocol == "PROMETHEUS":
        raise _pool_checks.no_children(protocol)
    pool = session.get(Pool, pool_id)
    if (pool is None or pool.loadbalancer_id != lb.id
            or pool.provisioning_status in (ProvisioningStatus.PENDING_DELETE,
                                            ProvisioningStatus.DELETED)):
        raise not_found("Pool", pool_id)
    _pool_checks.check_listener_protocol(protocol, pool.protocol)
    if any(other.id != listener_id for other in pool.listeners):
        raise Conflict(f"Pool {pool_id} is already in use by another listener.")
