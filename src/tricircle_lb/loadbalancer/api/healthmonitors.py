"""``/v2/lbaas/healthmonitors``: Octavia's health monitors, one per pool.

Types HTTP, HTTPS, TCP and PING (a TCP connect check on the amphora, as the
renderer documents); UDP-CONNECT and SCTP are refused as Octavia refuses
them for TCP-family pools, TLS-HELLO as unsupported. ``delay`` and
``timeout`` are seconds (1..86400, what HAProxy's ``inter`` takes here) and
``timeout`` may not exceed ``delay``. The HTTP fields (``http_method``,
``url_path``, ``expected_codes``) get Octavia's defaults on HTTP(S)
monitors and are refused on the others; ``url_path`` must be an absolute
path of URL characters only, so it can sit in ``option httpchk`` safely.
"""
# No `from __future__ import annotations`: FastAPI reads the body models from
# the annotations of the handlers.

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

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
from tricircle_lb.loadbalancer.errors import invalid_option

router = APIRouter()
Status = models.ProvisioningStatus
Body = dict[str, Any]

MonitorType = Literal["HTTP", "HTTPS", "TCP", "PING", "TLS-HELLO", "UDP-CONNECT", "SCTP"]
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH",
                     "CONNECT"]
Seconds = Annotated[int, Field(ge=1, le=86400)]
Retries = Annotated[int, Field(ge=1, le=10)]
HTTP_FIELDS = ("http_method", "url_path", "expected_codes")
HTTP_DEFAULTS = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
# Unreserved, sub-delims, ':', '@', '/', '%' (escapes) and a query: RFC 3986
# path characters, nothing HAProxy would read as syntax.
_URL_PATH_RE = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/%?-]{0,2047}")
# Octavia's syntax: "200", "200,202", "200-204" (spaces after commas allowed).
_CODES_RE = re.compile(r"(\d{3}(\s*,\s*\d{3})*)|(\d{3}-\d{3})")
_DOMAIN_RE = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                        r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


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
    url_path: str | None = Field(None, max_length=2048)
    expected_codes: str | None = Field(None, max_length=64)
    http_version: float | None = None
    domain_name: str | None = Field(None, max_length=255)
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
    url_path: str | None = Field(None, max_length=2048)
    expected_codes: str | None = Field(None, max_length=64)
    http_version: float | None = None
    domain_name: str | None = Field(None, max_length=255)
    tags: Tags | None = None


class MonitorCreateBody(RequestBody):
    healthmonitor: MonitorCreate


class MonitorUpdateBody(RequestBody):
    healthmonitor: MonitorUpdate


def _check_type(kind: str) -> None:
    if kind in ("UDP-CONNECT", "SCTP"):
        raise invalid_option(f"The {kind} type is only supported for pools of type UDP/SCTP.")
    if kind == "TLS-HELLO":
        raise invalid_option("Provider 'amphora' does not support a requested option: "
                             "health monitor type TLS-HELLO is not supported.")


def expected_codes(codes: str) -> str:
    """``codes`` without spaces, or 400 (status codes 100..599, ranges ascending)."""
    if not _CODES_RE.fullmatch(codes):
        raise invalid_option(f"expected_codes {codes!r} must look like 200, 200,202 or 200-204.")
    compact = re.sub(r"\s+", "", codes)
    values = [int(c) for c in re.split("[,-]", compact)]
    if any(not 100 <= c <= 599 for c in values) or ("-" in compact and values[0] > values[1]):
        raise invalid_option(f"expected_codes {codes!r} are not HTTP status codes.")
    return compact


def url_path(path: str) -> str:
    if not _URL_PATH_RE.fullmatch(path):
        raise invalid_option(f"URL path {path!r} is invalid: it must start with '/' and hold "
                             "only URL characters (no spaces or control characters).")
    return path


def checked(fields: dict[str, Any]) -> dict[str, Any]:
    """The monitor's whole state after a create or update, validated, defaults filled."""
    kind = fields["type"]
    if fields["timeout"] > fields["delay"]:
        raise invalid_option("The health monitor timeout must be less than or equal to "
                             "the delay.")
    result = dict(fields)
    if kind in ("HTTP", "HTTPS"):
        for name, default in HTTP_DEFAULTS.items():
            if result.get(name) is None:
                result[name] = default
        result["url_path"] = url_path(result["url_path"])
        result["expected_codes"] = expected_codes(result["expected_codes"])
    else:
        for name in (*HTTP_FIELDS, "http_version", "domain_name"):
            if result.get(name) is not None:
                raise invalid_option(f"{name} is not a valid option for health monitors of "
                                     f"type {kind}")
    if result.get("http_version") not in (None, 1.0, 1.1):
        raise invalid_option(f"http_version {result['http_version']} is not one of 1.0, 1.1.")
    if result.get("domain_name") is not None:
        if result.get("http_version") is None:
            raise invalid_option("'http_version' must be specified when 'domain_name' is "
                                 "provided.")
        if result["http_version"] < 1.1:
            raise invalid_option(f"http_version {result['http_version']} is not a valid "
                                 "option for health monitors HTTP 1.1 domain name health check")
        if not _DOMAIN_RE.fullmatch(result["domain_name"]):
            raise invalid_option(f"domain_name {result['domain_name']!r} is not a valid "
                                 "host name.")
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
    _check_type(req.type)
    state = checked({f: getattr(req, f) for f in _STATE})
    with svc.db.write() as session:
        pool = get_scoped(session, models.Pool, req.pool_id, ctx, "Pool")
        if pool.healthmonitor is not None:
            raise Conflict("This pool already has a health monitor")
        check_quota(session, svc, pool.project_id, "healthmonitor")
        ensure_mutable(pool.loadbalancer)
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
        state = {f: getattr(hm, f) for f in _STATE}
        for field in given & set(_STATE):
            value = getattr(req, field)
            # null resets an HTTP field to its default (filled in by ``checked``).
            if value is not None or field in (*HTTP_FIELDS, "http_version", "domain_name"):
                state[field] = value
        state = checked(state)
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
