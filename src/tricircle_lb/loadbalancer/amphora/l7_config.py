"""Octavia's L7 policies and rules as HAProxy ACLs and ``http-request`` rules.

Octavia's "first policy by position wins" holds even though HAProxy runs
every ``http-request`` rule before any ``use_backend``: each policy, in
position order, records its position in ``txn.tlb_l7`` if its rules match and
no earlier policy matched; the redirect, deny and ``use_backend`` rules then
test that variable. Policies without rules never match and are left out.
Values are quoted as :mod:`.haproxy_config` describes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tricircle_lb.loadbalancer.amphora.model import L7Rule, Listener
from tricircle_lb.loadbalancer.amphora.render_checks import (
    TOKEN_RE,
    ConfigRenderError,
    ident,
    integer,
    match,
    printable,
    quote,
)

_URL_RE = re.compile(r"https?://[^\s]{1,2040}")
_DN_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9.-]{0,63}")
_id, _printable, _match, _int, _TOKEN_RE = ident, printable, match, integer, TOKEN_RE
_MATCH = {"EQUAL_TO": "str", "STARTS_WITH": "beg", "ENDS_WITH": "end", "CONTAINS": "sub",
          "REGEX": "reg"}


def _acl(rule: L7Rule, where: str) -> str:
    rid = _id(rule.id, f"{where}.id")
    if rule.compare_type not in _MATCH:
        raise ConfigRenderError(f"{where}.compare_type: unknown {rule.compare_type!r}")
    value = _printable(rule.value, f"{where}.value")
    if rule.compare_type == "REGEX":
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigRenderError(f"{where}.value: invalid regex: {exc}") from None
    match = f"-m {_MATCH[rule.compare_type]}"
    if rule.type == "PATH":
        fetch = "path"
    elif rule.type == "HOST_NAME":
        fetch = "req.hdr(host) -i"
    elif rule.type == "FILE_TYPE":
        if rule.compare_type not in ("EQUAL_TO", "REGEX"):
            raise ConfigRenderError(f"{where}.compare_type: FILE_TYPE takes EQUAL_TO or REGEX")
        # "path_end -m str" does not work in HAProxy; path_end alone is EQUAL_TO.
        fetch, match = ("path_end", "") if rule.compare_type == "EQUAL_TO" else ("path", match)
        if rule.compare_type == "EQUAL_TO":
            value = "." + value.lstrip(".")
    elif rule.type in ("HEADER", "COOKIE"):
        if rule.key is None:
            raise ConfigRenderError(f"{where}.key: required for {rule.type}")
        key = _match(_TOKEN_RE, rule.key, f"{where}.key", "an HTTP token", 64)
        fetch = f"req.hdr({key})" if rule.type == "HEADER" else f"req.cook({key})"
    elif rule.type == "SSL_DN_FIELD":
        if rule.key is None:
            raise ConfigRenderError(f"{where}.key: required for {rule.type}")
        key = _match(_DN_FIELD_RE, rule.key, f"{where}.key", "a DN field name", 64)
        fetch = f"ssl_c_s_dn({key})"
    else:
        raise ConfigRenderError(f"{where}.type: unknown {rule.type!r}")
    return " ".join(p for p in ("acl", rid, fetch, match, "--", quote(value)) if p)


def _ssl_acl(rule: L7Rule, where: str) -> str | None:
    """The client-certificate rules whose values are not strings to compare."""
    rid = _id(rule.id, f"{where}.id")
    if rule.type == "SSL_CONN_HAS_CERT":
        return f"acl {rid} ssl_c_used"
    if rule.type == "SSL_VERIFY_RESULT":
        if not rule.value.isdigit() or len(rule.value) > 9:
            raise ConfigRenderError(f"{where}.value: SSL_VERIFY_RESULT takes an integer")
        return f"acl {rid} ssl_c_verify eq {int(rule.value)}"
    return None


def l7_lines(listener: Listener, backend_of: Mapping[str, str], where: str) -> list[str]:
    acls: list[str] = []
    marks: list[str] = []
    actions: list[str] = []
    uses: list[str] = []
    positions = [p.position for p in listener.l7policies]
    if len(set(positions)) != len(positions):
        raise ConfigRenderError(f"{where}.l7policies: positions must be unique")
    for policy in sorted(listener.l7policies, key=lambda p: p.position):
        pwhere = f"{where}.l7policies[{policy.id}]"
        _id(policy.id, f"{pwhere}.id")
        pos = _int(policy.position, f"{pwhere}.position", 1, 1 << 31)
        if not policy.rules:
            continue
        terms = []
        for rule in policy.rules:
            rwhere = f"{pwhere}.rules[{rule.id}]"
            acls.append(_ssl_acl(rule, rwhere) or _acl(rule, rwhere))
            terms.append(("!" if rule.invert else "") + rule.id)
        marks.append(
            f"http-request set-var(txn.tlb_l7) int({pos}) "
            f"if !{{ var(txn.tlb_l7) -m found }} {' '.join(terms)}"
        )
        chosen = f"if {{ var(txn.tlb_l7) -m int {pos} }}"
        if policy.action == "REJECT":
            actions.append(f"http-request deny {chosen}")
        elif policy.action == "REDIRECT_TO_URL":
            url = _match(_URL_RE, policy.redirect_url or "", f"{pwhere}.redirect_url",
                         "an http(s) URL without whitespace", 2048)
            # A redirect location is a log-format string: "%%" is a literal "%".
            actions.append(
                f"http-request redirect location {quote(url.replace('%', '%%'))} "
                f"code {_int(policy.redirect_http_code, f'{pwhere}.redirect_http_code', 301, 308)}"
                f" {chosen}"
            )
        elif policy.action == "REDIRECT_PREFIX":
            prefix = _match(_URL_RE, policy.redirect_prefix or "", f"{pwhere}.redirect_prefix",
                            "an http(s) URL without whitespace", 2048)
            actions.append(
                f"http-request redirect prefix {quote(prefix.replace('%', '%%'))} "
                f"code {_int(policy.redirect_http_code, f'{pwhere}.redirect_http_code', 301, 308)}"
                f" {chosen}"
            )
        elif policy.action == "REDIRECT_TO_POOL":
            pool_id = _id(policy.redirect_pool_id or "", f"{pwhere}.redirect_pool_id")
            uses.append(f"use_backend {backend_of[pool_id]} {chosen}")
        else:
            raise ConfigRenderError(f"{pwhere}.action: unknown {policy.action!r}")
    return acls + marks + actions + uses
