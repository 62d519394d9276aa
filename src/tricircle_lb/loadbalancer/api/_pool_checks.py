"""Pool rules of Octavia's API that need no database: protocols, algorithms,
session persistence, and which pool protocols a listener protocol can carry.

Only what the amphora renders is accepted: HTTP, HTTPS (pass-through) and
TCP. The other protocols and algorithms of Octavia's API are recognised and
refused with a message that says so, rather than a generic "invalid value".
"""

from __future__ import annotations

import re
from typing import Any

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.loadbalancer.errors import invalid_option

UNSUPPORTED_PROTOCOLS = ("PROXY", "PROXYV2", "UDP", "SCTP")
UNSUPPORTED_ALGORITHMS = ("SOURCE_IP_PORT",)

# Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP, less what the amphora here
# does not carry (PROXY, PROXYV2, TERMINATED_HTTPS, UDP, SCTP).
LISTENER_POOL_PROTOCOLS: dict[str, tuple[str, ...]] = {
    "TCP": ("HTTP", "HTTPS", "TCP"),
    "HTTP": ("HTTP",),
    "HTTPS": ("HTTPS", "TCP"),
}

# Stricter than Octavia's cookie-name check: the HTTP token the renderer accepts.
_COOKIE_NAME_RE = re.compile(r"[A-Za-z0-9!*+.^_|~-]{1,64}")


def unsupported(what: str) -> BadRequest:
    return invalid_option(f"Provider 'amphora' does not support a requested option: {what}")


def check_protocol(protocol: str) -> None:
    if protocol in UNSUPPORTED_PROTOCOLS:
        raise unsupported(f"pool protocol {protocol} is not supported.")


def check_tls(enabled: bool | None) -> None:
    """``tls_enabled: false`` is what every pool here is; re-encryption is not rendered."""
    if enabled:
        raise unsupported("tls_enabled (re-encryption to members) is not supported.")


def check_algorithm(algorithm: str) -> None:
    if algorithm in UNSUPPORTED_ALGORITHMS:
        raise unsupported(f"lb_algorithm {algorithm} is not supported.")


def check_listener_protocol(listener_protocol: str, pool_protocol: str) -> None:
    """Octavia's listener/pool protocol matrix (its wording)."""
    if pool_protocol not in LISTENER_POOL_PROTOCOLS.get(listener_protocol, ()):
        raise invalid_option(f"The pool protocol '{pool_protocol}' is invalid while the "
                             f"listener protocol is '{listener_protocol}'.")


def check_session_persistence(sp: dict[str, Any] | None, protocol: str) -> None:
    """``cookie_name`` only (and always) with APP_COOKIE; cookies only on HTTP pools."""
    if sp is None:
        return
    kind = sp["type"]
    cookie = sp.get("cookie_name")
    if cookie is not None and kind != "APP_COOKIE":
        raise invalid_option('Field "cookie_name" can only be specified with session '
                             'persistence of type "APP_COOKIE".')
    if kind == "APP_COOKIE":
        if not cookie:
            raise invalid_option('Field "cookie_name" must be specified when using the '
                                 '"APP_COOKIE" session persistence type.')
        if not _COOKIE_NAME_RE.fullmatch(cookie):
            raise invalid_option('Supplied "cookie_name" is invalid.')
    if kind in ("HTTP_COOKIE", "APP_COOKIE") and protocol != "HTTP":
        raise invalid_option(f"Session persistence of type {kind} is only supported for "
                             f"HTTP pools, not {protocol}.")
    if sp.get("persistence_timeout") is not None or \
            sp.get("persistence_granularity") is not None:
        raise invalid_option("persistence_timeout and persistence_granularity only apply "
                             "to UDP and SCTP pools.")


def check_cookie_listeners(sp: dict[str, Any] | None, listener_protocols: list[str]) -> None:
    """Cookies are read in HTTP mode: a pool behind a TCP or HTTPS listener
    (which the amphora forwards as a byte stream) cannot keep cookie sessions."""
    if sp is None or sp["type"] == "SOURCE_IP":
        return
    for protocol in listener_protocols:
        if protocol != "HTTP":
            raise invalid_option(f"Session persistence of type {sp['type']} needs HTTP "
                                 f"listeners; this pool is used by a {protocol} listener.")
