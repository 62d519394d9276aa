"""A load balancer's TLS rows → the amphora's TLS fields and PEM files (decision 085).

Certificates and secrets are read through a :class:`CertificateSource` (in the
service, :class:`ServiceCertificates`: the region's Barbican read as the
load-balancer service user; tests pass their own). Each reference becomes
one :class:`~..amphora.model.PemFile` named after a hash of the reference,
so a listener whose reference is unchanged names the same file on every push.

If a reference cannot be loaded (the secret was deleted in Barbican, or
Barbican does not answer), the file is sent without its text: the amphora
keeps the copy it has and the listener keeps serving, as in Octavia; an
operator-visible warning is logged. An amphora that never had it (a new
listener, a new amphora) refuses the configuration, which fails the flow.

PEM text is never logged: warnings name the reference and the error only.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from tricircle_lb.loadbalancer.amphora import model
from tricircle_lb.loadbalancer.models import Listener, Pool

LOG = logging.getLogger(__name__)
CERTIFICATES_MODULE = "tricircle_lb.loadbalancer.certificates"


class CertificateLike(Protocol):
    @property
    def certificate(self) -> str: ...
    @property
    def private_key(self) -> str | None: ...
    @property
    def intermediates(self) -> Sequence[str]: ...


class CertificateSource(Protocol):
    """What the controller needs of the certificate module (engineer C's)."""

    def load_certificate(self, ref: str) -> CertificateLike: ...
    def load_secret(self, ref: str) -> str: ...


class ServiceCertificates:
    """The region's key manager through the certificate module's ``CertificateManager``,
    made on first use (a load balancer without TLS never needs it)."""

    def __init__(self, session: Any, region: str) -> None:
        self._session = session
        self._region = region
        self._manager: Any = None

    def _get(self) -> Any:
        if self._manager is None:
            module = importlib.import_module(CERTIFICATES_MODULE)
            self._manager = module.CertificateManager(self._session, self._region)
        return self._manager

    def load_certificate(self, ref: str) -> CertificateLike:
        cert: CertificateLike = self._get().load_certificate(ref)
        return cert

    def load_secret(self, ref: str) -> str:
        return str(self._get().load_secret(ref))


def _lines(pem: str) -> str:
    pem = pem.strip()
    return pem + "\n" if pem else ""


def chain_pem(cert: CertificateLike) -> str:
    """Certificate, intermediates, then key: one file HAProxy loads as ``crt``."""
    return "".join(_lines(p) for p in (cert.certificate, *cert.intermediates,
                                       cert.private_key or ""))


class Collector:
    """Loads each reference once and remembers the PEM files the configuration names."""

    def __init__(self, source: CertificateSource | None, lb_id: str) -> None:
        self._source = source
        self.lb_id = lb_id
        self.files: dict[str, model.PemFile] = {}

    def _get_source(self) -> CertificateSource:
        if self._source is None:
            raise LookupError("the controller has no certificate manager")
        return self._source

    def _file(self, kind: str, ref: str, owner: str) -> str:
        name = f"{kind}-{hashlib.sha256(ref.encode()).hexdigest()[:32]}"
        if name in self.files:
            return name
        try:
            source = self._get_source()
            pem = chain_pem(source.load_certificate(ref)) if kind == "crt" \
                else _lines(source.load_secret(ref))
        except Exception as exc:  # any failure to fetch: keep what the amphorae have
            LOG.warning("load balancer %s: %s: could not load %s (%s: %s); the amphorae "
                        "keep serving the copy they have", self.lb_id, owner, ref,
                        type(exc).__name__, exc)
            self.files[name] = model.PemFile(name)
            return name
        self.files[name] = model.PemFile(name, pem)
        return name

    def certificate(self, ref: str, owner: str) -> str:
        return self._file("crt", ref, owner)

    def secret(self, ref: str, owner: str) -> str:
        return self._file("sec", ref, owner)


def _versions(values: Sequence[str] | None) -> tuple[model.TlsVersion, ...] | None:
    return None if values is None else tuple(values)  # type: ignore[arg-type]  # the API's


def _alpn(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def listener_tls(li: Listener, collect: Collector) -> model.ListenerTls | None:
    """TLS termination of a TERMINATED_HTTPS listener, or a PROMETHEUS one with certificates."""
    default_ref = li.default_tls_container_ref
    sni_refs = list(li.sni_container_refs or [])
    if li.protocol not in ("TERMINATED_HTTPS", "PROMETHEUS") or not (default_ref or sni_refs):
        return None
    owner = f"listener {li.id}"
    return model.ListenerTls(
        default_certificate=collect.certificate(default_ref, owner) if default_ref else None,
        sni_certificates=tuple(collect.certificate(r, owner) for r in sni_refs),
        client_authentication=li.client_authentication or "NONE",  # type: ignore[arg-type]
        client_ca=collect.secret(li.client_ca_tls_container_ref, owner)
        if li.client_ca_tls_container_ref else None,
        client_crl=collect.secret(li.client_crl_container_ref, owner)
        if li.client_crl_container_ref and li.client_ca_tls_container_ref else None,
        versions=_versions(li.tls_versions), ciphers=li.tls_ciphers or None,
        alpn_protocols=_alpn(li.alpn_protocols), hsts_max_age=li.hsts_max_age,
        hsts_include_subdomains=bool(li.hsts_include_subdomains),
        hsts_preload=bool(li.hsts_preload))


def pool_tls(p: Pool, collect: Collector) -> model.PoolTls | None:
    """Re-encryption to the members of a pool with ``tls_enabled``."""
    if not p.tls_enabled:
        return None
    owner = f"pool {p.id}"
    return model.PoolTls(
        client_certificate=collect.certificate(p.tls_container_ref, owner)
        if p.tls_container_ref else None,
        ca=collect.secret(p.ca_tls_container_ref, owner) if p.ca_tls_container_ref else None,
        crl=collect.secret(p.crl_container_ref, owner)
        if p.crl_container_ref and p.ca_tls_container_ref else None,
        versions=_versions(p.tls_versions), ciphers=p.tls_ciphers or None,
        alpn_protocols=_alpn(p.alpn_protocols))
