"""List queries as Neutron answers them: filters, ``fields=``, sorting, pagination.

Lists are built from the rows the caller may see, then narrowed here, so every
resource gets the same semantics: repeated filters OR together
(``?id=a&id=b``), ``tags``/``tags-any``/``not-tags``/``not-tags-any``,
``fixed_ips=ip_address=…``, ``sort_key``/``sort_dir`` (repeatable),
``limit``/``marker``/``page_reverse`` with ``<resources>_links``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams

from tricircle_lb.networking.errors import invalid

Body = dict[str, Any]
CONTROL = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}
TAG_FILTERS = {"tags", "tags-any", "not-tags", "not-tags-any"}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _matches(item: Body, key: str, wanted: list[str]) -> bool:
    if key == "fixed_ips":
        return any(_fixed_ip_matches(item.get("fixed_ips", []), w) for w in wanted)
    value = item.get(key)
    if isinstance(value, list):
        return any(_as_text(v) in wanted for v in value)
    text = _as_text(value)
    return text in wanted or text.lower() in [w.lower() for w in wanted if w in ("True", "False")]


def _fixed_ip_matches(fixed_ips: list[Body], spec: str) -> bool:
    key, _, value = spec.partition("=")
    if key not in ("ip_address", "subnet_id", "ip_address_substr"):
        raise invalid(f"fixed_ips filter {spec!r} is not supported")
    if key == "ip_address_substr":
        return any(value in ip.get("ip_address", "") for ip in fixed_ips)
    return any(ip.get(key) == value for ip in fixed_ips)


def _tag_filter(item: Body, key: str, values: list[str]) -> bool:
    tags = set(item.get("tags", []))
    wanted = {t for v in values for t in v.split(",") if t}
    if key == "tags":
        return wanted <= tags
    if key == "tags-any":
        return bool(wanted & tags)
    if key == "not-tags":
        return not wanted <= tags
    return not wanted & tags


def apply_filters(items: Iterable[Body], params: QueryParams,
                  ignore: Sequence[str] = ()) -> list[Body]:
    result = list(items)
    for key in {k for k in params if k not in CONTROL and k not in ignore}:
        values = params.getlist(key)
        if key in TAG_FILTERS:
            result = [i for i in result if _tag_filter(i, key, values)]
        elif result and key not in result[0] and key != "fixed_ips":
            continue  # Neutron ignores filters on attributes it does not know
        else:
            result = [i for i in result if _matches(i, key, values)]
    return result


def _sort_value(item: Body, *, key: str) -> tuple[int, Any]:
    value = item.get(key)
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def list_response(collection: str, items: Iterable[Body], params: QueryParams,
                  url: URL, ignore: Sequence[str] = ()) -> Body:
    """The whole GET answer for ``collection`` (``networks`` …)."""
    result = apply_filters(items, params, ignore)
    keys = params.getlist("sort_key")
    dirs = params.getlist("sort_dir")
    if len(dirs) > len(keys):
        raise invalid("The number of sort_keys and sort_dirs must be same")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise invalid(f"{d} is an invalid value for sort_dir, valid values are 'asc' "
                          "and 'desc'")
    if result:
        for key in keys:
            if key not in result[0]:
                raise invalid(f"{key} is an invalid attribute for sort_keys")
    pairs = list(zip(keys, dirs + ["asc"] * (len(keys) - len(dirs)), strict=True))
    if not pairs:
        pairs = [("id", "asc")]
    for key, direction in reversed(pairs):
        result.sort(key=functools.partial(_sort_value, key=key), reverse=direction == "desc")

    links: list[Body] = []
    limit_text = params.get("limit")
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError as exc:
            raise invalid(f"'{limit_text}' is not an integer") from exc
        if limit < 0:
            raise invalid(f"Limit must be an integer 0 or greater and not '{limit}'")
        reverse = params.get("page_reverse", "false").lower() == "true"
        result, links = _paginate(collection, result, params, url, limit, reverse)

    fields = [f for f in params.getlist("fields") if f]
    if fields:
        result = [{k: v for k, v in item.items() if k in fields} for item in result]
    body: Body = {collection: result}
    if links:
        body[f"{collection}_links"] = links
    return body


def _paginate(collection: str, items: list[Body], params: QueryParams, url: URL, limit: int,
              reverse: bool) -> tuple[list[Body], list[Body]]:
    marker = params.get("marker")
    ids = [i["id"] for i in items]
    if reverse:
        end = ids.index(marker) if marker in ids else len(items)
        start = max(0, end - limit) if limit else 0
        page = items[start:end]
        more_before = start > 0
        more_after = marker is not None
    else:
        start = ids.index(marker) + 1 if marker in ids else 0
        page = items[start:start + limit] if limit else items[start:]
        more_before = marker is not None
        more_after = bool(limit) and start + limit < len(items)
    links = []
    base = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse")]

    def link(rel: str, marker_id: str, page_reverse: bool) -> Body:
        query = [*base, ("marker", marker_id)]
        if page_reverse:
            query.append(("page_reverse", "True"))
        return {"rel": rel, "href": str(url.replace(query=urlencode(query)))}

    if page and more_after:
        links.append(link("next", page[-1]["id"], False))
    if page and more_before:
        links.append(link("previous", page[0]["id"], True))
    return page, links
