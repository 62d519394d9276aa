"""Pool rules of Octavia's API that need no database: protocols, algorithms,
session persistence, and which pool protocols a listener protocol can carry.

Every protocol and algorithm of Octavia's API is accepted but what the
amphora provider here refuses, answered as Octavia answers a provider's
refusal (501, ``Provider 'amphora' does not support a requested option``):
the SOURCE_IP_PORT algorithm (Octavia's amphora driver refuses it too) and
SCTP (not built here, decision 081).
"""

from __future__ import annotations

import re
from typing import Any

from tricircle_lb.common.errors import BadRequest
from tricircle_lb.loadbalancer.errors import (
    NotImplementedByProvider,
    invalid_option,
    unsupported_option,
)

# Octavia's amphora driver: AMPHORA_SUPPORTED_LB_ALGORITHMS.
SUPPORTED_ALGORITHMS = ("ROUND_ROBIN", "SOURCE_IP", "LEAST_CONNECTIONS")
# Octavia's AMPHORA_SUPPORTED_PROTOCOLS, less SCTP.
SUPPORTED_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "PROXY", "PROXYV2", "UDP",
                       "PROMETHEUS")
LVS_PROTOCOLS = ("UDP", "SCTP")

# Octavia's VALID_LISTENER_POOL_PROTOCOL_MAP.
LISTENER_POOL_PROTOCOLS: dict[str, tuple[str, ...]] = {
    "TCP": ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"),
    "HTTP": ("HTTP", "PROXY", "PROXYV2"),
    "HTTPS": ("HTTPS", "PROXY", "PROXYV2", "TCP"),
    "TERMINATED_HTTPS": ("HTTP", "PROXY", "PROXYV2"),
    "UDP": ("UDP",),
    "SCTP": ("SCTP",),
    "PROMETHEUS": (),
}

# Octavia's check_session_persistence: characters a cookie name may not hold.
_BAD_COOKIE_NAME = re.compile(r"[\x00-\x20\x22\x28-\x29\x2c\x2f\x3a-\x40\x5b-\x5d\x7b\x7d\x7f]+")


def unsupported_protocol(protocol: str) -> NotImplementedByProvider:
    """Octavia's amphora driver's words for a protocol it does not take."""
    return unsupported_option(f"Amphora provider does not support {protocol} protocol. "
                              f"Supported: {', '.join(SUPPORTED_PROTOCOLS)}")


def check_protocol(protocol: str) -> None:
    if protocol not in SUPPORTED_PROTOCOLS:
        raise unsupported_protocol(protocol)


def check_algorithm(algorithm: str) -> None:
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise unsupported_option(f"Amphora provider does not support {algorithm} algorithm.")


def check_listener_protocol(listener_protocol: str, pool_protocol: str) -> None:
    """Octavia's listener/pool protocol matrix (its wording)."""
    if listener_protocol == "PROMETHEUS":
        raise no_children(listener_protocol)
    if pool_protocol not in LISTENER_POOL_PROTOCOLS.get(listener_protocol, ()):
        raise invalid_option(f"The pool protocol '{pool_protocol}' is invalid while the "
                             f"listener protocol is '{listener_protocol}'.")


def no_children(protocol: str) -> BadRequest:
    """Octavia's ``ListenerNoChildren``: a PROMETHEUS listener has no pool nor policy."""
    return BadRequest(f"Protocol {protocol} listeners cannot have child objects.")


def check_session_persistence(sp: dict[str, Any] | None, protocol: str,
                              given: set[str] | None = None) -> None:
    """Octavia's rules: UDP/SCTP pools take SOURCE_IP with its timeout and
    granularity; the others any type, ``cookie_name`` only with APP_COOKIE."""
    if sp is None:
        return
    kind = sp["type"]
    cookie = sp.get("cookie_name")
    if protocol in LVS_PROTOCOLS:
        lvs = "/".join(LVS_PROTOCOLS)
        extra = (given or set()) - {"type", "persistence_timeout", "persistence_granularity"}
        if kind == "SOURCE_IP" and extra:
            raise invalid_option("session_persistence SOURCE_IP type for UDP and SCTP "
                                 "protocols only accepts: type, persistence_timeout, "
                                 "persistence_granularity.")
        if cookie:
            raise invalid_option(f"Cookie names are not supported for {lvs} pools.")
        if kind in ("HTTP_COOKIE", "APP_COOKIE"):
            raise invalid_option(f"Session persistence of type {kind} is not supported "
                                 f"for {lvs} protocol pools.")
    elif sp.get("persistence_timeout") or sp.get("persistence_granularity"):
        raise invalid_option("persistence_timeout and persistence_granularity is only for "
                             "UDP and SCTP protocol pools.")
    if cookie:
        if kind != "APP_COOKIE":
            raise invalid_option('Field "cookie_name" can only be specified with session '
                                 'persistence of type "APP_COOKIE".')
        if _BAD_COOKIE_NAME.search(cookie):
            raise invalid_option('Supplied "cookie_name" is invalid.')
    if kind == "APP_COOKIE" and not cookie:
        raise invalid_option('Field "cookie_name" must be specified when using the '
                             '"APP_COOKIE" session persistence type.')
