"""What every Octavia v2 handler shares. Each handler runs: scope the project →
check policy → validate → persist (``PENDING_*``) → hand off to the controller.

Dependencies and context
- ``CallerDep`` (the caller's :class:`Context`), ``ServicesDep`` (db, queue,
  network, config of the app) — ``def create(body: X, ctx: CallerDep, svc: ServicesDep)``.
- ``authorize(ctx, Action.READ | WRITE | ADMIN)``: Octavia's default RBAC (403).
- ``owning_project(ctx, body.project_id or body.tenant_id)``: project of a new object.

Request bodies
- ``RequestBody``: pydantic base that rejects unknown attributes (400).
- ``Name``/``Description`` (≤255, no control characters), ``Tags``, ``IpAddress``
  (canonical text), ``SafeStr`` / ``no_control_chars(value)`` for other strings
  that reach HAProxy.

Look-ups and state
- ``get_scoped(session, Model, id, ctx, "Pool")``: the object; 404 ``Pool <id> not
  found.`` if there is none, 403 (Octavia's policy text) if it is another project's.
- ``authorize_list(ctx, request)``: READ, and 403 for ``?project_id=`` of another
  project (Octavia's ``_auth_get_all``).
- ``ensure_mutable(lb)``: 409 ``Load Balancer <id> is immutable …`` while PENDING_*.
- ``child_changed(session, svc, lb, obj, ProvisioningStatus.PENDING_UPDATE)``:
  marks the child and the LB, and hands off (``controller/handoff.apply``).
- ``check_quota(session, svc, project_id, "pool", adding=1)``: 403 when met.
- ``timestamps(obj)``: ``created_at``/``updated_at`` in Octavia's format.

Responses
- ``show(request, "pool", view)``: ``{"pool": view}`` honouring ``?fields=``.
- ``list_response(request, "pools", views)``: filters by any field (incl.
  ``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``), ``fields``, ``sort``
  / ``sort_key``+``sort_dir``, ``limit``/``marker``/``page_reverse`` and the
  ``<collection>_links``. ``scoped_select(Model, ctx)`` is the project-scoped query.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tricircle_lb.common.app import caller
from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest
from tricircle_lb.db import Database
from tricircle_lb.jobs import JobQueue
from tricircle_lb.loadbalancer import models, quotas
from tricircle_lb.loadbalancer.certificates import CertificateManager
from tricircle_lb.loadbalancer.config import LoadBalancerConfig
from tricircle_lb.loadbalancer.controller import handoff
from tricircle_lb.loadbalancer.drivers.network import NetworkDriver
from tricircle_lb.loadbalancer.errors import forbidden, immutable, not_found
from tricircle_lb.loadbalancer.policy import Action, enforce, owning_project, sees_all_projects

__all__ = [
    "Action",
    "CallerDep",
    "Description",
    "IpAddress",
    "Name",
    "RequestBody",
    "SafeStr",
    "Services",
    "ServicesDep",
    "Tags",
    "authorize",
    "authorize_list",
    "check_quota",
    "child_changed",
    "ensure_mutable",
    "get_scoped",
    "ip_address",
    "iso",
    "list_response",
    "no_control_chars",
    "owning_project",
    "scoped_select",
    "show",
    "timestamps",
]

T = TypeVar("T")
PENDING = frozenset({models.ProvisioningStatus.PENDING_CREATE,
                     models.ProvisioningStatus.PENDING_UPDATE,
                     models.ProvisioningStatus.PENDING_DELETE})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Services:
    """What handlers use of ``app.state``."""

    db: Database
    queue: JobQueue[models.Job]
    network: NetworkDriver
    config: LoadBalancerConfig
    # The key manager's client (``loadbalancer/certificates.py``), if the app has one.
    certificates: CertificateManager | None = None


def _services(request: Request) -> Services:
    s = request.app.state
    return Services(db=s.db, queue=s.queue, network=s.network, config=s.config,
                    certificates=getattr(s, "certificates", None))


CallerDep = Annotated[Context, Depends(caller)]
ServicesDep = Annotated[Services, Depends(_services)]


def authorize(ctx: Context, action: Action) -> None:
    enforce(ctx, action)


def authorize_list(ctx: Context, request: Request) -> None:
    """May the caller list: READ, and a ``project_id`` filter naming another project
    only for those who see every project (else 403, as Octavia's ``_auth_get_all``)."""
    enforce(ctx, Action.READ)
    wanted = request.query_params.get("project_id")
    if wanted is not None and wanted != ctx.project_id and not sees_all_projects(ctx):
        raise forbidden()


# -- request bodies ---------------------------------------------------------

def no_control_chars(value: str) -> str:
    """Reject newlines and other control characters: they could end a line of
    the HAProxy configuration the value is written into."""
    if _CONTROL.search(value):
        raise ValueError("Value must not contain control characters.")
    return value


class RequestBody(BaseModel):
    """A request body: unknown attributes are a 400, as in Octavia."""

    model_config = ConfigDict(extra="forbid")


def ip_address(value: str) -> str:
    """The address in its canonical text form."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("Value should be IPv4 or IPv6 format") from None


SafeStr = Annotated[str, AfterValidator(no_control_chars)]
IpAddress = Annotated[str, Field(max_length=64), AfterValidator(ip_address)]
Name = Annotated[str, Field(max_length=255), AfterValidator(no_control_chars)]
Description = Annotated[str, Field(max_length=255), AfterValidator(no_control_chars)]
# Octavia's tags: strings of at most 255 characters, as many as given (they never
# reach HAProxy).
Tag = Annotated[str, Field(max_length=255)]
Tags = list[Tag]


# -- look-ups and state -----------------------------------------------------

def scoped_select(model: type[T], ctx: Context) -> Select[Any]:
    """Rows of ``model`` the caller may see (all projects for admins), not ``DELETED``."""
    query = select(model)
    m: Any = model
    if hasattr(m, "provisioning_status"):
        query = query.where(m.provisioning_status != models.ProvisioningStatus.DELETED.value)
    if not sees_all_projects(ctx) and hasattr(m, "project_id"):
        query = query.where(m.project_id == ctx.project_id)
    return query


def get_scoped(session: Session, model: type[T], object_id: str, ctx: Context,
               kind: str) -> T:
    """The object, as Octavia finds it: 404 in Octavia's words if there is none;
    403 with Octavia's policy text if it is another project's (Octavia loads the
    object, then enforces its policy with the object's ``project_id``)."""
    obj: Any = session.get(model, object_id)
    if (obj is None
            or getattr(obj, "provisioning_status", None) == models.ProvisioningStatus.DELETED):
        raise not_found(kind, object_id)
    if not sees_all_projects(ctx) and obj.project_id != ctx.project_id:
        raise forbidden()
    found: T = obj
    return found


def ensure_mutable(lb: models.LoadBalancer) -> None:
    if lb.provisioning_status in PENDING:
        raise immutable(lb.id)


def child_changed(session: Session, svc: Services, lb: models.LoadBalancer, obj: Any,
                  status: models.ProvisioningStatus) -> None:
    """Mark a child (listener, pool, member …) and its load balancer pending and
    hand the change to the controller, in the caller's transaction."""
    obj.provisioning_status = status.value
    lb.provisioning_status = models.ProvisioningStatus.PENDING_UPDATE.value
    session.flush()
    handoff.apply(session, svc.queue, lb.id, lb.project_id)


def check_quota(session: Session, svc: Services, project_id: str, kind: str,
                adding: int = 1) -> None:
    quotas.check(session, project_id, kind, adding, svc.config.default_quotas)


def iso(value: datetime | None) -> str | None:
    return value.replace(microsecond=0, tzinfo=None).isoformat() if value else None


def timestamps(obj: Any) -> dict[str, str | None]:
    return {"created_at": iso(obj.created_at), "updated_at": iso(obj.updated_at)}


# -- responses --------------------------------------------------------------

_RESERVED = {"limit", "marker", "page_reverse", "sort", "sort_key", "sort_dir", "fields",
             "tags", "tags-any", "not-tags", "not-tags-any"}


def _many(request: Request, name: str) -> list[str]:
    """A query parameter given repeatedly or comma separated."""
    return [part for value in request.query_params.getlist(name)
            for part in value.split(",") if part]


def _select_fields(view: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k in fields} if fields else view


def show(request: Request, key: str, view: dict[str, Any]) -> dict[str, Any]:
    return {key: _select_fields(view, _many(request, "fields"))}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# Filters on a parent Octavia's views show as a list of ids (its database's column).
_PARENT_FILTERS = {"loadbalancer_id": "loadbalancers", "pool_id": "pools"}


def _matches(view: dict[str, Any], request: Request) -> bool:
    for name, value in request.query_params.multi_items():
        parents = _PARENT_FILTERS.get(name)
        if name not in view and parents in view and isinstance(view[parents], list):
            if value not in [p.get("id") for p in view[parents]]:
                return False
            continue
        if name in _RESERVED or name not in view or isinstance(view[name], list | dict):
            continue
        have = _as_text(view[name])
        if have != (value.lower() if isinstance(view[name], bool) else value):
            return False
    tags = set(view.get("tags") or ())
    return (set(_many(request, "tags")) <= tags
            and (not _many(request, "tags-any") or bool(tags & set(_many(request, "tags-any"))))
            and not (_many(request, "not-tags") and set(_many(request, "not-tags")) <= tags)
            and not tags & set(_many(request, "not-tags-any")))


def _sort_keys(request: Request) -> list[tuple[str, bool]]:
    """[(key, descending)], from ``sort=k:dir,…`` or ``sort_key``/``sort_dir``."""
    keys: list[tuple[str, bool]] = []
    if request.query_params.get("sort"):
        for part in _many(request, "sort"):
            key, _, direction = part.partition(":")
            keys.append((key, _direction(direction or "asc")))
    else:
        dirs = _many(request, "sort_dir")
        for i, key in enumerate(_many(request, "sort_key")):
            keys.append((key, _direction(dirs[i] if i < len(dirs) else
                                         (dirs[-1] if dirs else "asc"))))
    return keys


def _direction(value: str) -> bool:
    if value not in ("asc", "desc"):
        raise BadRequest(f"Supplied sort direction '{value}' is not valid.")
    return value == "desc"


def _sorted(views: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    for key, _ in keys:
        if views and key not in views[0]:
            raise BadRequest(f"Supplied sort key '{key}' is not valid.")
    if not keys:
        # Octavia's default order, for the views that have those fields.
        keys = [(k, False) for k in ("created_at", "id") if views and k in views[0]]
    result = list(views)
    # Stable sorts from the last key to the first give the combined order.
    for key, descending in reversed(keys):
        result.sort(key=_sort_key(key), reverse=descending)
    return result


def _sort_key(key: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    # None sorts first; values of other types compare as text.
    def of(view: dict[str, Any]) -> tuple[bool, Any]:
        value = view[key]
        return (value is not None,
                value if isinstance(value, int | float | str) else _as_text(value))
    return of


def _link(request: Request, rel: str, marker: str, limit: int, reverse: bool) -> dict[str, str]:
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("limit", "marker", "page_reverse")]
    params += [("limit", str(limit)), ("marker", marker)]
    if reverse:
        params.append(("page_reverse", "True"))
    base = str(request.url).split("?", 1)[0]
    return {"href": f"{base}?{urlencode(params)}", "rel": rel}


def _positive_limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"Invalid input for field/attribute limit. Value: '{raw}'. "
                         "Value should be a positive integer.")
    return int(raw)


def list_response(request: Request, collection: str,
                  views: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Octavia's listing: filter, sort, page, then pick ``fields``."""
    rows = _sorted([v for v in views if _matches(v, request)], _sort_keys(request))
    limit = _positive_limit(request.query_params.get("limit"))
    marker = request.query_params.get("marker")
    reverse = request.query_params.get("page_reverse", "").lower() == "true"
    links: list[dict[str, str]] = []
    if marker is not None or limit is not None:
        ids = [v.get("id") for v in rows]
        if marker is not None and marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        pos = ids.index(marker) if marker is not None else None
        if reverse:
            end = pos if pos is not None else len(rows)
            start = max(0, end - limit) if limit else 0
        else:
            start = pos + 1 if pos is not None else 0
            end = start + limit if limit else len(rows)
        page = rows[start:end]
        if page and limit:
            if end < len(rows):
                links.append(_link(request, "next", str(page[-1]["id"]), limit, False))
            if start > 0:
                links.append(_link(request, "previous", str(page[0]["id"]), limit, True))
        rows = page
    fields = _many(request, "fields")
    return {collection: [_select_fields(v, fields) for v in rows],
            f"{collection}_links": links}
