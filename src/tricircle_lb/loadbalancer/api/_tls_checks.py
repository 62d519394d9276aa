"""TLS options of listeners (termination) and pools (re-encryption to members),
checked as Octavia's API checks them, with Octavia's defaults.

Certificate references are secrets of the caller's key manager: the API
grants the load-balancer service read access with the caller's token and
loads each reference once (Octavia's ``_validate_tls_refs``); a reference
that cannot be loaded is a 400 ``Could not retrieve certificate: [<refs>]``.
The key-manager side is ``tricircle_lb.loadbalancer.certificates``;
:func:`_readable` is the one place that calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tricircle_lb.common.errors import ApiError, BadRequest
from tricircle_lb.loadbalancer.certificates import CertificateError, CertificateManager
from tricircle_lb.loadbalancer.errors import invalid_option, unsupported_option

# Octavia's [api_settings] defaults for new TLS listeners and pools.
DEFAULT_CIPHERS = ("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                   "TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"
                   "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                   "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
                   "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:"
                   "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")
DEFAULT_TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"]
DEFAULT_ALPN_PROTOCOLS = ["h2", "http/1.1", "http/1.0"]
ALL_TLS_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
ALPN_PROTOCOLS = ("h2", "http/1.1", "http/1.0")
CLIENT_AUTH_MODES = ("NONE", "OPTIONAL", "MANDATORY")
_CIPHER_RE = re.compile(r"[A-Za-z0-9\-+!:@=_.]+")


def check_ciphers(ciphers: str | None) -> None:
    if ciphers and not _CIPHER_RE.fullmatch(ciphers):
        raise invalid_option("Invalid characters in cipher string. Only alphanumeric, -, +, "
                             "!, :, @, =, _, and . are allowed.")


def check_tls_versions(versions: list[str] | None) -> None:
    if versions == []:
        raise invalid_option("Empty TLS version list. Either specify at least one TLS "
                             "version or remove this parameter to use the default.")
    bad = [v for v in versions or () if v not in ALL_TLS_VERSIONS]
    if bad:
        raise invalid_option("Invalid TLS versions: " + ", ".join(bad))


def check_alpn_protocols(protocols: list[str] | None) -> None:
    if protocols == []:
        raise invalid_option("Empty ALPN protocol list. Either specify at least one ALPN "
                             "protocol or remove this parameter to use the default.")
    bad = [p for p in protocols or () if p not in ALPN_PROTOCOLS]
    if bad:
        # Octavia's amphora driver takes every protocol Octavia's API knows.
        raise unsupported_option(f"Amphora provider does not support {', '.join(bad)} ALPN "
                                 f"protocol(s). Supported: {', '.join(ALPN_PROTOCOLS)}")


def alpn_value(value: str) -> str:
    """A pydantic check: Octavia's ``AlpnProtocolType``."""
    if value not in ALPN_PROTOCOLS:
        raise ValueError("Value should be a valid ALPN protocol ID")
    return value


def check_hsts(state: dict[str, Any], protocol: str) -> None:
    """Octavia's ``check_hsts_options`` on a listener's whole state."""
    has_age = isinstance(state.get("hsts_max_age"), int)
    if (state.get("hsts_include_subdomains") or state.get("hsts_preload")) and not has_age:
        raise invalid_option("HSTS configuration options hsts_include_subdomains and "
                             "hsts_preload only make sense if hsts_max_age is set as well.")
    if has_age and protocol != "TERMINATED_HTTPS":
        raise invalid_option("The HSTS feature can only be used for listeners using the "
                             "TERMINATED_HTTPS protocol.")


def _readable(manager: CertificateManager | None, ref: str, token: str | None,
              secret: bool) -> bool:
    """Whether the load-balancer service can read the caller's ``ref``: access
    granted with the caller's token, then loaded (Octavia: any failure is a bad ref)."""
    if manager is None:
        return False  # no key manager here: nothing can be retrieved
    try:
        if token:
            manager.grant_access(ref, token)
        if secret:
            manager.load_secret(ref, token)
        else:
            manager.load_certificate(ref, token)
    except (CertificateError, ApiError):
        return False
    return True


def check_refs(manager: CertificateManager | None, refs: Iterable[str | None],
               token: str | None) -> None:
    """400 ``Could not retrieve certificate: [...]`` naming every unreadable
    certificate (a container or a PKCS12 secret)."""
    bad = [ref for ref in refs if ref and not _readable(manager, ref, token, secret=False)]
    if bad:
        raise BadRequest(f"Could not retrieve certificate: {bad!r}")


def check_ca_refs(manager: CertificateManager | None, ca: str | None, crl: str | None,
                  token: str | None) -> None:
    """A CA certificate and its optional CRL: PEM secrets (Octavia's
    ``_validate_client_ca_and_crl_refs``)."""
    bad = [ref for ref in (ca, crl) if ref and not _readable(manager, ref, token, secret=True)]
    if bad:
        raise BadRequest(f"Could not retrieve certificate: {bad!r}")
