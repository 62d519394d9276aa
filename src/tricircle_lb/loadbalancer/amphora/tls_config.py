"""The TLS parts of an HAProxy configuration, as Octavia's amphora renders them.

Files, in the amphora's certificate directory ``cert_dir`` (written by the
agent, :mod:`.agent.certificates`, before ``haproxy -c``):

- ``<name>.pem`` for each :class:`~.model.PemFile` (chain and key, CA bundle
  or CRL), named by the TLS fields;
- ``<listener id>.crtlist``: the listener's certificates, its default one
  first (what a client without SNI, or with a name no certificate has, gets)
  then its SNI ones; HAProxy picks by the names in each certificate (CN and
  subjectAltName), as Octavia's crt-list does.

Listener binds get ``ssl crt-list``, ``ca-file`` + ``verify`` (client
authentication NONE/OPTIONAL/MANDATORY → none/optional/required), ``crl-file``,
``ciphers``, one ``no-<version>`` per TLS version not allowed, and ``alpn``.
Servers of a pool with TLS get ``ssl``, ``crt`` (a client certificate to the
members), ``ca-file`` + ``verify required`` (else ``verify none``), ``crl-file``,
``sni ssl_fc_sni`` (the client's SNI passed on), ciphers, versions and ALPN.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from pathlib import Path

from tricircle_lb.loadbalancer.amphora.model import (
    ListenerTls,
    LoadBalancerConfig,
    PoolTls,
    TlsVersion,
)
from tricircle_lb.loadbalancer.amphora.render_checks import (
    ConfigRenderError,
    ident,
    integer,
    match,
    quote,
)

_NO_VERSION: dict[TlsVersion, str] = {
    "SSLv3": "no-sslv3", "TLSv1": "no-tlsv10", "TLSv1.1": "no-tlsv11",
    "TLSv1.2": "no-tlsv12", "TLSv1.3": "no-tlsv13"}
_VERIFY = {"NONE": "none", "OPTIONAL": "optional", "MANDATORY": "required"}
_CIPHERS_RE = re.compile(r"[A-Za-z0-9+!:@=_.-]{1,2048}")  # Octavia's VALID_CIPHER_RE
_ALPN_RE = re.compile(r"[A-Za-z0-9._/-]{1,32}")
# crt-list lines are whitespace-separated words: the directory must need no quoting.
_DIR_RE = re.compile(r"/[A-Za-z0-9._/+-]{0,900}")

# Octavia's X-SSL-* headers (TERMINATED_HTTPS only); %{+Q} double-quotes the value.
SSL_HEADERS = {
    "X-SSL-Client-Verify": "%[ssl_c_verify]",
    "X-SSL-Client-Has-Cert": "%[ssl_c_used]",
    "X-SSL-Client-DN": "%{+Q}[ssl_c_s_dn]",
    "X-SSL-Client-CN": "%{+Q}[ssl_c_s_dn(cn)]",
    "X-SSL-Issuer": "%{+Q}[ssl_c_i_dn]",
    "X-SSL-Client-SHA1": "%{+Q}[ssl_c_sha1,hex]",
    "X-SSL-Client-Not-Before": "%{+Q}[ssl_c_notbefore]",
    "X-SSL-Client-Not-After": "%{+Q}[ssl_c_notafter]",
}


def directory(cert_dir: Path | None, where: str) -> str:
    if cert_dir is None:
        raise ConfigRenderError(f"{where}: TLS needs the amphora's certificate directory")
    return match(_DIR_RE, str(cert_dir), "cert_dir", "a plain absolute path", 900)


def pem_path(cert_dir: str, name: str, known: Collection[str], where: str) -> str:
    """The file of PEM ``name``, which the configuration must carry."""
    ident(name, where)
    if name not in known:
        raise ConfigRenderError(f"{where}: no certificate file {name!r} in the configuration")
    return f"{cert_dir}/{name}.pem"


def crt_list_path(cert_dir: str, listener_id: str) -> str:
    return f"{cert_dir}/{listener_id}.crtlist"


def terminates(tls: ListenerTls | None) -> bool:
    return tls is not None and (tls.default_certificate is not None
                                or bool(tls.sni_certificates))


def crt_lists(config: LoadBalancerConfig, cert_dir: Path) -> dict[str, str]:
    """``{file name: content}`` of the crt-list of every TLS-terminating listener."""
    base = directory(cert_dir, "cert_dir")
    known = {f.name for f in config.certificates}
    files = {}
    for listener in config.listeners:
        tls = listener.tls
        if tls is None or not terminates(tls):
            continue
        where = f"listeners[{listener.id}].tls"
        names = ([tls.default_certificate] if tls.default_certificate else []) + [
            n for n in tls.sni_certificates if n != tls.default_certificate]
        paths = [pem_path(base, n, known, f"{where}.certificates") for n in names]
        files[f"{ident(listener.id, 'listeners[].id')}.crtlist"] = "".join(
            f"{p}\n" for p in dict.fromkeys(paths))
    return files


def _common(versions: tuple[TlsVersion, ...] | None, ciphers: str | None,
            alpn: tuple[str, ...] | None, where: str) -> list[str]:
    options = []
    if ciphers is not None:
        options.append("ciphers " + match(_CIPHERS_RE, ciphers, f"{where}.ciphers",
                                          "an OpenSSL cipher string", 2048))
    if versions is not None:
        for version in versions:
            if version not in _NO_VERSION:
                raise ConfigRenderError(f"{where}.versions: unknown {version!r}")
        options += [no for version, no in _NO_VERSION.items() if version not in versions]
    if alpn is not None and alpn:
        protocols = [match(_ALPN_RE, p, f"{where}.alpn_protocols", "an ALPN protocol id", 32)
                     for p in alpn]
        options.append("alpn " + ",".join(protocols))
    return options


def check_alpn(alpn: tuple[str, ...], where: str) -> str:
    return "check-alpn " + ",".join(match(_ALPN_RE, p, where, "an ALPN protocol id", 32)
                                    for p in alpn)


def bind_options(listener_id: str, tls: ListenerTls, cert_dir: Path | None,
                 known: Collection[str], where: str) -> str:
    """What follows the address on a TLS-terminating listener's ``bind`` line."""
    base = directory(cert_dir, where)
    for name in (tls.default_certificate, *tls.sni_certificates):
        if name is not None:
            pem_path(base, name, known, f"{where}.certificates")
    options = ["ssl", "crt-list", quote(crt_list_path(base, listener_id))]
    if tls.client_authentication not in _VERIFY:
        raise ConfigRenderError(f"{where}.client_authentication: unknown "
                                f"{tls.client_authentication!r}")
    if tls.client_ca is not None:
        options += ["ca-file", quote(pem_path(base, tls.client_ca, known, f"{where}.client_ca")),
                    "verify", _VERIFY[tls.client_authentication]]
        if tls.client_crl is not None:
            options += ["crl-file",
                        quote(pem_path(base, tls.client_crl, known, f"{where}.client_crl"))]
    elif tls.client_authentication != "NONE":
        raise ConfigRenderError(f"{where}.client_ca: required by client_authentication "
                                f"{tls.client_authentication}")
    options += _common(tls.versions, tls.ciphers, tls.alpn_protocols, where)
    return " ".join(options)


def hsts_line(tls: ListenerTls, where: str) -> str | None:
    """Octavia's Strict-Transport-Security response header, if asked for."""
    if tls.hsts_max_age is None:
        return None
    value = f"max-age={integer(tls.hsts_max_age, f'{where}.hsts_max_age', 0, 1 << 31)};"
    if tls.hsts_include_subdomains:
        value += " includeSubDomains;"
    if tls.hsts_preload:
        value += " preload;"
    return f"http-response set-header Strict-Transport-Security {quote(value)}"


def server_options(tls: PoolTls, cert_dir: Path | None, known: Collection[str],
                   where: str) -> list[str]:
    """The options of every server of a pool that re-encrypts to its members."""
    base = directory(cert_dir, where)
    options = ["ssl"]
    if tls.client_certificate is not None:
        options += ["crt", quote(pem_path(base, tls.client_certificate, known,
                                          f"{where}.client_certificate"))]
    if tls.ca is not None:
        options += ["ca-file", quote(pem_path(base, tls.ca, known, f"{where}.ca")),
                    "verify", "required"]
        if tls.crl is not None:
            options += ["crl-file", quote(pem_path(base, tls.crl, known, f"{where}.crl"))]
    else:
        options += ["verify", "none"]
    options += ["sni", "ssl_fc_sni"]
    options += _common(tls.versions, tls.ciphers, tls.alpn_protocols, where)
    return options


def ssl_header_lines(wanted: Mapping[str, bool]) -> list[str]:
    return [f"http-request set-header {header} {fetch}"
            for header, fetch in SSL_HEADERS.items() if wanted.get(header)]
