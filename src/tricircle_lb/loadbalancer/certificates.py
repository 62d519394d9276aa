"""Tenants' TLS certificates, read from the key manager (Barbican) as Octavia does.

Octavia's barbican ACL cert manager, over plain httpx:

- :meth:`CertificateManager.grant_access`: with the *user's* token, add the
  load-balancer service user to the ``read`` ACL of the container and of every
  secret in it (of the one secret for a PKCS12 bundle). Octavia's API does this
  before it stores a listener or pool that names the ref.
- :meth:`CertificateManager.load_certificate`: with the *service user's*
  token (or the user's, when given), read a ``certificate`` container
  (certificate, private_key, intermediates, private_key_passphrase) or a secret
  holding a PKCS12 bundle, and return PEM.
- :meth:`CertificateManager.load_secret`: a CA certificate or CRL (PEM).

A ref is never followed as given: only its kind (``secrets``/``containers``)
and UUID are taken from it, and the request goes to this region's key manager
(as python-barbicanclient does), so a ref cannot send the service's token
elsewhere. Private keys are never logged and are left out of ``repr``.
"""

from __future__ import annotations

import configparser
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from tricircle_lb.common.config import AuthConfig
from tricircle_lb.common.errors import ServiceUnavailable
from tricircle_lb.common.http import ServiceSession

LOG = logging.getLogger(__name__)

SERVICE_TYPE = "key-manager"
_REF = re.compile(r"(?:^|/v1/)(?:(secrets|containers)/)?"
                  r"([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/?$")
# The names Barbican gives the secrets of a container of type certificate.
CERTIFICATE, PRIVATE_KEY = "certificate", "private_key"
INTERMEDIATES, PASSPHRASE = "intermediates", "private_key_passphrase"


class CertificateError(Exception):
    """A certificate or secret is missing, not readable by us, or not valid.

    ``str()`` says which ref and why; it never holds key material.
    """

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"Could not retrieve certificate: {ref} ({reason})")
        self.ref = ref
        self.reason = reason


@dataclass(frozen=True)
class TLSCertificate:
    """A certificate with its key, as HAProxy is given them (PEM, key unencrypted)."""

    certificate: str
    private_key: str = field(repr=False)
    intermediates: list[str] = field(default_factory=list)
    primary_cn: str | None = None
    alt_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Ref:
    kind: str  # "secrets" or "containers"
    uuid: str


def parse_ref(ref: str) -> _Ref:
    """The kind and UUID of a Barbican ref (a bare UUID names a secret)."""
    match = _REF.search(ref.strip())
    if match is None:
        raise CertificateError(ref, "not a key manager secret or container reference")
    return _Ref(match.group(1) or "secrets", match.group(2).lower())


class CertificateManager:
    """Reads certificates from the key manager of one region. Thread safe."""

    def __init__(self, session: ServiceSession, region: str, endpoint: str = "") -> None:
        self.session = session
        self.region = region
        self._endpoint = endpoint.rstrip("/")
        self._service_user_id = ""

    @classmethod
    def from_config(cls, parser: configparser.ConfigParser,
                    session: ServiceSession | None = None) -> CertificateManager:
        """From the service's ``[certificates]`` (endpoint, region_name) and
        ``[keystone_authtoken]``; without an endpoint the catalog is asked."""
        session = session or ServiceSession(AuthConfig.from_parser(parser))
        region = parser.get("certificates", "region_name",
                            fallback=parser.get("loadbalancer", "region_name", fallback=""))
        return cls(session, region, parser.get("certificates", "endpoint", fallback=""))

    @property
    def endpoint(self) -> str:
        if not self._endpoint:
            self._endpoint = self.session.endpoint(SERVICE_TYPE, self.region)
        return self._endpoint

    # -- ACLs ---------------------------------------------------------------

    def grant_access(self, ref: str, user_token: str) -> None:
        """Let the service user read ``ref`` (and a container's secrets), as the user."""
        parsed = parse_ref(ref)
        user_id = self.service_user_id()
        targets = [parsed]
        if parsed.kind == "containers":
            container = self._get_json(ref, f"/v1/containers/{parsed.uuid}", user_token)
            targets += [parse_ref(str(s.get("secret_ref", "")))
                        for s in container.get("secret_refs") or []]
        for target in targets:
            self._add_reader(ref, target, user_id, user_token)

    def _add_reader(self, ref: str, target: _Ref, user_id: str, token: str) -> None:
        path = f"/v1/{target.kind}/{target.uuid}/acl"
        read = self._get_json(ref, path, token).get("read") or {}
        users = list(read.get("users") or [])
        if user_id in users:
            return
        body = {"read": {"users": [*users, user_id],
                         "project-access": bool(read.get("project-access", True))}}
        self._request(ref, "PUT", path, token, json=body)
        LOG.info("granted the service user read access to %s/%s", target.kind, target.uuid)

    def service_user_id(self) -> str:
        """The id of the user this service logs in as (whom the ACLs name)."""
        if not self._service_user_id:
            token = self.session.token()
            url = f"{self.session.auth.auth_url.rstrip('/')}/auth/tokens"
            try:
                resp = self.session.client.get(url, headers={
                    "X-Auth-Token": token, "X-Subject-Token": token})
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"identity service unreachable: {exc}") from exc
            if resp.status_code != 200:
                raise ServiceUnavailable(f"cannot read the service token: {resp.status_code}")
            self._service_user_id = str(resp.json()["token"]["user"]["id"])
        return self._service_user_id

    # -- reading ------------------------------------------------------------

    def load_certificate(self, ref: str, user_token: str | None = None) -> TLSCertificate:
        """The certificate of a ``certificate`` container or a PKCS12 secret."""
        parsed = parse_ref(ref)
        if parsed.kind == "secrets":
            return _from_pkcs12(ref, self._payload(ref, parsed.uuid, user_token))
        container = self._get_json(ref, f"/v1/containers/{parsed.uuid}", user_token)
        if container.get("type") != "certificate":
            raise CertificateError(ref, f"a {container.get('type')} container, "
                                        "not a certificate container")
        named = {str(s.get("name")): parse_ref(str(s.get("secret_ref", "")))
                 for s in container.get("secret_refs") or []}
        if CERTIFICATE not in named or PRIVATE_KEY not in named:
            raise CertificateError(ref, "the container has no certificate or no private_key")

        def read(name: str) -> bytes | None:
            return self._payload(ref, named[name].uuid, user_token) if name in named else None

        passphrase = read(PASSPHRASE)
        return _from_parts(ref, read(CERTIFICATE) or b"", read(PRIVATE_KEY) or b"",
                           read(INTERMEDIATES), passphrase)

    def load_secret(self, ref: str, user_token: str | None = None) -> str:
        """A secret's payload as text: a CA certificate or CRL in PEM."""
        parsed = parse_ref(ref)
        if parsed.kind != "secrets":
            raise CertificateError(ref, "a container, not a secret")
        data = self._payload(ref, parsed.uuid, user_token)
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise CertificateError(ref, "the secret is not PEM text") from exc
        # Barbican drops a text payload's final newline; PEM files are concatenated.
        return text if text.endswith("\n") else text + "\n"

    def _payload(self, ref: str, uuid: str, token: str | None) -> bytes:
        meta = self._get_json(ref, f"/v1/secrets/{uuid}", token)
        content_type = (meta.get("content_types") or {}).get("default")
        if not content_type:
            raise CertificateError(ref, f"secret {uuid} has no payload")
        resp = self._request(ref, "GET", f"/v1/secrets/{uuid}/payload", token,
                             headers={"Accept": str(content_type)})
        return resp.content

    # -- HTTP ---------------------------------------------------------------

    def _get_json(self, ref: str, path: str, token: str | None) -> dict[str, Any]:
        data = self._request(ref, "GET", path, token).json()
        if not isinstance(data, dict):
            raise CertificateError(ref, f"unexpected answer to GET {path}")
        return data

    def _request(self, ref: str, method: str, path: str, token: str | None,
                 **kwargs: Any) -> httpx.Response:
        """One call as the user (``token``) or as the service (renewed once on 401)."""
        headers = dict(kwargs.pop("headers", {}))
        for attempt in range(2):
            headers["X-Auth-Token"] = token or self.session.token()
            try:
                resp = self.session.client.request(method, f"{self.endpoint}{path}",
                                                   headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"key manager unreachable: {exc}") from exc
            if resp.status_code == 401 and token is None and attempt == 0:
                self.session.invalidate()
                continue
            break
        if resp.status_code >= 500:
            raise ServiceUnavailable(f"key manager: {method} {path}: {resp.status_code}")
        if resp.status_code in (401, 403):
            raise CertificateError(ref, "not allowed to read it")
        if resp.status_code == 404:
            raise CertificateError(ref, "not found")
        if resp.status_code >= 400:
            raise CertificateError(ref, f"{method} {path}: {resp.status_code}")
        return resp


# -- parsing ---------------------------------------------------------------

def _from_parts(ref: str, cert_data: bytes, key_data: bytes, chain: bytes | None,
                passphrase: bytes | None) -> TLSCertificate:
    cert = _certificate(ref, cert_data)
    try:
        key = (serialization.load_pem_private_key(key_data, passphrase or None)
               if b"-----BEGIN" in key_data
               else serialization.load_der_private_key(key_data, passphrase or None))
    except (ValueError, TypeError) as exc:
        # Not the exception's text: it could quote the key.
        raise CertificateError(ref, "the private key is unreadable or its passphrase "
                                    "is wrong") from exc
    return _result(ref, cert, key, _intermediates(ref, chain) if chain else [])


def _from_pkcs12(ref: str, data: bytes) -> TLSCertificate:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(ref, "The PKCS12 bundle is unreadable. Please check the "
                                    "PKCS12 bundle validity. In addition, make sure it does "
                                    "not require a pass phrase.") from exc
    if cert is None or key is None:
        raise CertificateError(ref, "the PKCS12 bundle holds no certificate or no key")
    return _result(ref, cert, key, list(extra))


PrivateKey = Any  # cryptography's union of private key types


def _result(ref: str, cert: x509.Certificate, key: PrivateKey,
            chain: list[x509.Certificate]) -> TLSCertificate:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if key.public_key().public_bytes(pem, spki) != cert.public_key().public_bytes(pem, spki):
        raise CertificateError(ref, "Key and x509 certificate do not match")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        alt_names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        alt_names = []
    return TLSCertificate(
        certificate=cert.public_bytes(pem).decode(),
        private_key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode(),
        intermediates=[c.public_bytes(pem).decode() for c in chain],
        primary_cn=str(cns[0].value) if cns else None,
        alt_names=alt_names,
    )


def _certificate(ref: str, data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateError(ref, "Could not read X509 from PEM") from exc


def _intermediates(ref: str, data: bytes) -> list[x509.Certificate]:
    """A PEM bundle, a PKCS7 (PEM or DER) or one DER certificate, as Octavia takes them."""
    try:
        if b"-----BEGIN PKCS7" in data:
            return pkcs7.load_pem_pkcs7_certificates(data)
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        try:
            return pkcs7.load_der_pkcs7_certificates(data)
        except ValueError:
            return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise CertificateError(ref, "the intermediates are unreadable") from exc
