"""Bodies between Neutron's LBaaS v2 wording and Octavia's v2 wording.

Requests are checked the way Neutron's API layer checks them (unknown
attributes, read-only attributes, a missing resource key) before Octavia sees
them; what the values may be is Octavia's to decide, so its validation is the
only one. Responses show neutron-lbaas's attributes of Octavia's objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.networking.lbaas.resources import OWNER, PERSISTENCE_KEYS, Kind

Body = dict[str, Any]
Params = list[tuple[str, str]]
STATS_KEYS = ("bytes_in", "bytes_out", "active_connections", "total_connections")


def _bad(message: str) -> BadRequest:
    return BadRequest(message, kind="HTTPBadRequest")


def to_octavia(kind: Kind, payload: Any, creating: bool) -> Body:
    """The Octavia request body for a Neutron create (``creating``) or update body."""
    if not isinstance(payload, dict) or not payload:
        raise _bad("Resource body required")
    obj = payload.get(kind.member)
    if not isinstance(obj, dict):
        raise _bad(f"Unable to find '{kind.member}' in request body")
    _check_attributes(kind, obj, creating)
    out: Body = {}
    for key, value in obj.items():
        # Neutron reads an explicit null on create as "use the default".
        if key in OWNER or (creating and value is None):
            continue
        out[key] = value
    owner = _owner(obj)
    if creating and kind.owner_on_create and owner:
        out["project_id"] = owner
    if "session_persistence" in out and not out["session_persistence"]:
        # Neutron's "no persistence" is {} as well as null; Octavia's is null.
        out["session_persistence"] = None
    return {kind.member: out}


def _check_attributes(kind: Kind, obj: Body, creating: bool) -> None:
    known = set(kind.visible) | kind.on_create | kind.on_update
    unknown = sorted(k for k in obj if k not in known)
    if unknown:
        raise _bad(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    allowed = kind.on_create if creating else kind.on_update
    for key in sorted(obj):
        if key in allowed:
            continue
        if creating:
            raise _bad(f"Attribute '{key}' not allowed in POST")
        raise _bad(f"Cannot update read-only attribute {key}")


def _owner(obj: Body) -> str | None:
    tenant, project = obj.get("tenant_id"), obj.get("project_id")
    if tenant and project and tenant != project:
        raise _bad("'project_id' and 'tenant_id' do not match")
    owner = tenant or project
    return str(owner) if owner else None


def to_neutron(kind: Kind, obj: Body, fields: Iterable[str] = ()) -> Body:
    """neutron-lbaas's view of an Octavia object; only ``fields`` if any are asked for."""
    out = {key: obj.get(key) for key in kind.visible if key not in OWNER}
    out["tenant_id"] = out["project_id"] = obj.get("project_id")
    persistence = out.get("session_persistence")
    if isinstance(persistence, dict):
        out["session_persistence"] = {k: persistence.get(k) for k in PERSISTENCE_KEYS}
    wanted = set(fields)
    return {k: v for k, v in out.items() if k in wanted} if wanted else out


def list_query(params: Iterable[tuple[str, str]]) -> tuple[Params, list[str]]:
    """Octavia's query for a Neutron list query, and the ``fields`` Neutron asked for.

    Fields are picked here rather than by Octavia: a Neutron field such as
    ``tenant_id`` has no Octavia counterpart to ask for.
    """
    query: Params = []
    fields: list[str] = []
    for key, value in params:
        if key == "fields":
            fields.extend(f for f in value.split(",") if f)
        elif key == "tenant_id":
            query.append(("project_id", value))
        elif key == "sort_key" and value == "tenant_id":
            query.append((key, "project_id"))
        else:
            query.append((key, value))
    return query, fields


def page_links(links: Any, here: str) -> list[Body]:
    """Octavia's paging links re-pointed at this API: same query, this URL's path."""
    if not isinstance(links, list):
        return []
    scheme, netloc, path, _, _ = urlsplit(here)
    out = []
    for link in links:
        if isinstance(link, dict) and isinstance(link.get("href"), str):
            query = urlsplit(link["href"]).query
            out.append({"rel": link.get("rel"),
                        "href": urlunsplit((scheme, netloc, path, query, ""))})
    return out


def statuses(tree: Any) -> Any:
    """Octavia's status tree in neutron-lbaas's words: ``healthmonitor`` for ``health_monitor``."""
    if isinstance(tree, list):
        return [statuses(item) for item in tree]
    if isinstance(tree, dict):
        return {("healthmonitor" if k == "health_monitor" else k): statuses(v)
                for k, v in tree.items()}
    return tree


def stats(body: Body) -> Body:
    """A load balancer's counters, the four neutron-lbaas reported."""
    counters = body.get("stats") or {}
    return {"stats": {k: counters.get(k, 0) for k in STATS_KEYS}}
