"""``/v2/lbaas/healthmonitors``: Octavia's health monitors, one per pool.

Octavia's types and rules: HTTP, HTTPS, TCP, PING and TLS-HELLO on any pool;
UDP-CONNECT only on UDP pools (which take UDP-CONNECT, TCP and HTTP, and a
UDP-CONNECT ``delay`` of at least 3 s, Octavia's
``udp_connect_min_interval_health_monitor``). SCTP monitors are the
provider's unsupported option (501, decision 081). ``delay`` and ``timeout``
are seconds ≥ 0 with no rule between them, as in Octavia. The HTTP fields get
Octavia's defaults on HTTP(S) monitors and are refused on the others.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field

from tricircle_lb.common.errors import Conflict
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.api.common import (
    Action,
    CallerDep,
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
    scoped_select,
    show,
    timestamps,
)
from tricircle_lb.loadbalancer.errors import (
    invalid_option,
    not_a_valid_option,
    unsupported_option,
)

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]

MonitorType = Literal["HTTP", "HTTPS", "TCP", "PING", "TLS-HELLO", "UDP-CONNECT", "SCTP"]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH",
                     "CONNECT"]
Seconds = Annotated[int, Field(ge=0, le=2147483647)]
Retries = Annotated[int, Field(ge=1, le=10)]
HTTP_FIELDS = ("http_method", "url_path", "expected_codes")
HTTP_DEFAULTS = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
UDP_CONNECT_MIN_DELAY = 3
# Octavia's validate.url_path: an RFC 3986 path (unreserved, sub-delims, ':', '@',
# '/', percent escapes; a query after '?'), absolute, no whitespace.
_URL_PATH_RE = re.compile(r"/(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*"
                          r"(?:\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?")
# Octavia's expected_codes pattern.
_CODES_RE = re.compile(r"(\d{3}(\s*,\s*\d{3})*)|(\d{3}-\d{3})")
# Octavia's DOMAIN_NAME_REGEX.
_DOMAIN_RE = re.compile(r"^(?=.{1,253}\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\.|$))+$")


def _url_path(value: str) -> str:
    if not _URL_PATH_RE.fullmatch(value):
        raise ValueError("Value must be a valid URL Path string")
    return value


def _codes(value: str) -> str:
    if not _CODES_RE.fullmatch(value):
        raise ValueError(f"Value should match the pattern {_CODES_RE.pattern}")
    return value


def _domain(value: str) -> str:
    if not _DOMAIN_RE.match(value):
        raise ValueError(f"Value should match the pattern {_DOMAIN_RE.pattern}")
    return value


UrlPath = Annotated[str, AfterValidator(_url_path)]
Codes = Annotated[str, AfterValidator(_codes)]
Domain = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_domain)]


def _http_version(value: float) -> float:
    if value not in (1.0, 1.1):
        raise ValueError("Value should be one of: 1.0, 1.1")
    return value


HttpVersion = Annotated[float, AfterValidator(_http_version)]


class MonitorCreate(RequestBody):
    pool_id: str = Field(max_length=36)
    type: MonitorType
    delay: Seconds
    timeout: Seconds
    max_retries: Retries
    max_retries_down: Retries = 3
    name: Name = ""
    admin_state_up: bool = True
    http_method: HttpMethod | None = None
    url_path: UrlPath | None = None
    expected_codes: Codes | None = None
    http_version: HttpVersion | None = None
    domain_name: Domain | None = None
    project_id: str | None = Field(None, max_length=64)
    tenant_id: str | None = Field(None, max_length=64)
    tags: Tags = Field(default_factory=list)


class MonitorUpdate(RequestBody):
    delay: Seconds | None = None
    timeout: Seconds | None = None
    max_retries: Retries | None = None
    max_retries_down: Retries | None = None
    name: Name | None = None
    admin_state_up: bool | None = None
    http_method: HttpMethod | None = None
    url_path: UrlPath | None = None
    expected_codes: Codes | None = None
    http_version: HttpVersion | None = None
    domain_name: Domain | None = None
    tags: Tags | None = None


class MonitorCreateBody(RequestBody):
    healthmonitor: MonitorCreate


class MonitorUpdateBody(RequestBody):
    healthmonitor: MonitorUpdate


def check_type(kind: str, pool_protocol: str, delay: int | None) -> None:
    """Octavia's rules between a monitor's type and its pool's protocol."""
    if pool_protocol in ("UDP", "SCTP"):
        allowed = ("UDP-CONNECT", "SCTP", "TCP", "HTTP")
        if kind not in allowed:
            raise invalid_option(f"The associated pool protocol is {pool_protocol}, so only "
                                 f"a {'/'.join(allowed)} health monitor is supported.")
        if kind == "UDP-CONNECT" and delay is not None and delay < UDP_CONNECT_MIN_DELAY:
            raise invalid_option(f"The request delay value {delay} should be larger than "
                                 f"{UDP_CONNECT_MIN_DELAY} for {kind} health monitor type.")
    elif kind in ("UDP-CONNECT", "SCTP"):
        raise invalid_option(f"The {kind} type is only supported for pools of type UDP/SCTP.")


def check_provider(kind: str) -> None:
    """What the amphora provider here does not build (decision 081)."""
    if kind == "SCTP":
        raise unsupported_option("Amphora provider does not support SCTP health monitors.")


def checked(fields: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The monitor's whole state after a create or update, validated as Octavia's
    ``_validate_create_hm`` / ``_validate_update_hm`` do, HTTP defaults filled."""
    kind = fields["type"]
    result = dict(fields)
    if kind in ("HTTP", "HTTPS"):
        for name, default in HTTP_DEFAULTS.items():
            if not result.get(name):
                result[name] = default
        if result.get("expected_codes"):
            result["expected_codes"] = re.sub(r"\s+", "", result["expected_codes"])
    else:
        for name in HTTP_FIELDS:
            if name in given and fields.get(name):
                raise not_a_valid_option(name, f"health monitors of type {kind}")
    if result.get("domain_name") and not result.get("http_version"):
        raise invalid_option("'http_version' must be specified when 'domain_name' is "
                             "provided.")
    if result.get("domain_name") and result["http_version"] < 1.1:
        raise not_a_valid_option(f"http_version {result['http_version']}",
                                 "health monitors HTTP 1.1 domain name health check")
    return result


def monitor_view(hm: models.HealthMonitor) -> Body:
    return {
        "id": hm.id, "project_id": hm.project_id, "name": hm.name,
        "admin_state_up": hm.admin_state_up, "provisioning_status": hm.provisioning_status,
        "operating_status": hm.operating_status, "pools": [{"id": hm.pool_id}],
        "type": hm.type, "delay": hm.delay, "timeout": hm.timeout,
        "max_retries": hm.max_retries, "max_retries_down": hm.max_retries_down,
        "http_method": hm.http_method, "url_path": hm.url_path,
        "expected_codes": hm.expected_codes, "http_version": hm.http_version,
        "domain_name": hm.domain_name, "tags": list(hm.tags or []),
        **timestamps(hm),
    }


_STATE = ("type", "delay", "timeout", "max_retries", "max_retries_down", "http_method",
          "url_path", "expected_codes", "http_version", "domain_name")


@router.get("/v2/lbaas/healthmonitors", name="list_healthmonitors")
def list_monitors(request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize_list(ctx, request)
    with svc.db.read() as session:
        monitors = session.scalars(scoped_select(models.HealthMonitor, ctx))
        return list_response(request, "healthmonitors", [monitor_view(m) for m in monitors])


@router.get("/v2/lbaas/healthmonitors/{hm_id}", name="show_healthmonitor")
def show_monitor(hm_id: str, request: Request, ctx: CallerDep, svc: ServicesDep) -> Body:
    authorize(ctx, Action.READ)
    with svc.db.read() as session:
        hm = get_scoped(session, models.HealthMonitor, hm_id, ctx, "Health Monitor")
        return show(request, "healthmonitor", monitor_view(hm))


@router.post("/v2/lbaas/healthmonitors", status_code=201, name="create_healthmonitor")
def create_monitor(body: MonitorCreateBody, ctx: CallerDep, svc: ServicesDep) -> Body:
    req = body.healthmonitor
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        pool = get_scoped(session, models.Pool, req.pool_id, ctx, "Pool")
        check_type(req.type, pool.protocol, req.delay)
        check_quota(session, svc, pool.project_id, "healthmonitor")
        ensure_mutable(pool.loadbalancer)
        state = checked({f: getattr(req, f) for f in _STATE}, req.model_fields_set)
        if pool.healthmonitor is not None:
            raise Conflict("This pool already has a health monitor")
        check_provider(req.type)
        hm = models.HealthMonitor(
            project_id=pool.project_id, pool_id=pool.id, name=req.name,
            admin_state_up=req.admin_state_up, tags=list(req.tags),
            operating_status=models.OperatingStatus.OFFLINE.value, **state)
        session.add(hm)
        child_changed(session, svc, pool.loadbalancer, hm, Status.PENDING_CREATE)
        return {"healthmonitor": monitor_view(hm)}


@router.put("/v2/lbaas/healthmonitors/{hm_id}", name="update_healthmonitor")
def update_monitor(hm_id: str, body: MonitorUpdateBody, ctx: CallerDep,
                   svc: ServicesDep) -> Body:
    req = body.healthmonitor
    given = req.model_fields_set
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        hm = get_scoped(session, models.HealthMonitor, hm_id, ctx, "Health Monitor")
        for field in ("delay", "max_retries", "timeout"):
            if field in given and getattr(req, field) is None:
                raise not_a_valid_option(None, field)
        state = {f: getattr(hm, f) for f in _STATE}
        for field in given & set(_STATE):
            # null resets a field to its default (the HTTP ones filled in by ``checked``).
            state[field] = getattr(req, field)
        if state["max_retries_down"] is None:
            state["max_retries_down"] = 3
        if hm.pool.protocol in ("UDP", "SCTP"):
            check_type(hm.type, hm.pool.protocol, req.delay)
        state = checked(state, given)
        lb = hm.pool.loadbalancer
        ensure_mutable(lb)
        for field, value in state.items():
            setattr(hm, field, value)
        if "name" in given:
            hm.name = req.name or ""
        if req.admin_state_up is not None:
            hm.admin_state_up = req.admin_state_up
        if req.tags is not None:
            hm.tags = list(req.tags)
        child_changed(session, svc, lb, hm, Status.PENDING_UPDATE)
        return {"healthmonitor": monitor_view(hm)}


@router.delete("/v2/lbaas/healthmonitors/{hm_id}", status_code=204,
               name="delete_healthmonitor")
def delete_monitor(hm_id: str, ctx: CallerDep, svc: ServicesDep) -> Response:
    authorize(ctx, Action.WRITE)
    with svc.db.write() as session:
        hm = get_scoped(session, models.HealthMonitor, hm_id, ctx, "Health Monitor")
        lb = hm.pool.loadbalancer
        ensure_mutable(lb)
        child_changed(session, svc, lb, hm, Status.PENDING_DELETE)
    return Response(status_code=204)
