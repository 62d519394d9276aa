"""loadbalancer/certificates.py against the real Barbican and our identity service.

The module starts identity and the key manager exactly as ``tricircle-lb up``
does (``tricircle-lb serve identity|key-manager`` with the configuration files
``write_configs`` renders), on free 127.0.0.1 ports with a temporary state
directory, and bootstraps identity (roles, projects, users, catalog). Tenants
store secrets over Barbican's REST API with their own tokens; the load-balancer
service reads them as its service user.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests_support import write_topology
from tls_testing import Ca, make_ca
from tricircle_lb.common.config import AuthConfig
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.deploy import bootstrap
from tricircle_lb.deploy.key_manager import default_venv
from tricircle_lb.deploy.services import (
    DEMO_PROJECT,
    DEMO_USER,
    SERVICE_PROJECT,
    SERVICE_USER,
    Kind,
    identity_url,
    services,
    write_configs,
)
from tricircle_lb.deploy.state import Secrets, StatePaths
from tricircle_lb.deploy.topology import parse
from tricircle_lb.loadbalancer.certificates import (
    CertificateError,
    CertificateManager,
    parse_ref,
)

START_TIMEOUT = 90.0


@dataclass
class KeyManager:
    auth_url: str
    url: str
    secrets: Secrets
    demo_token: str
    other_token: str  # member of another project

    def manager(self) -> CertificateManager:
        auth = AuthConfig(self.auth_url, SERVICE_USER, self.secrets.service_password,
                          SERVICE_PROJECT)
        return CertificateManager(ServiceSession(auth), "RegionOne")

    def call(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", headers={"X-Auth-Token": token},
                             timeout=30, **kw)

    def store(self, payload: str | bytes, token: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"name": "tls", "payload_content_type": "text/plain"}
        if isinstance(payload, bytes):
            body.update(payload=base64.b64encode(payload).decode(),
                        payload_content_type="application/octet-stream",
                        payload_content_encoding="base64")
        else:
            body["payload"] = payload
        body.update(extra)
        resp = self.call("POST", "/v1/secrets", token or self.demo_token, json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["secret_ref"])

    def container(self, token: str | None = None, **secrets: str) -> str:
        body = {"type": "certificate", "name": "tls",
                "secret_refs": [{"name": n, "secret_ref": r} for n, r in secrets.items()]}
        resp = self.call("POST", "/v1/containers", token or self.demo_token, json=body)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["container_ref"])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthcheck", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy after {START_TIMEOUT}s")


@pytest.fixture(scope="module")
def km(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyManager]:
    if not (default_venv() / "bin" / "gunicorn").exists():
        pytest.skip(f"Barbican is not installed in {default_venv()} (install_barbican)")
    root = tmp_path_factory.mktemp("key-manager")
    write_topology(root / "topology.ini", root / "state")
    topology = parse((root / "topology.ini").read_text())
    paths = StatePaths(topology.state_dir)
    paths.create()
    secrets = Secrets.load_or_create(paths)
    write_configs(topology, secrets)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = {}
        for svc in services(topology):
            if svc.kind not in (Kind.IDENTITY, Kind.KEY_MANAGER):
                continue
            log = paths.stdout_file(svc.name)
            with open(log, "ab") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "tricircle_lb.cli", "serve", svc.kind.value,
                     "--config-file", str(svc.config_file)],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            _wait_healthy(svc.url, procs[-1], log)
            urls[svc.kind] = svc.url
        # Barbican's database is the state directory's, not barbican.sqlite in the cwd.
        assert (topology.state_dir / "key-manager.db").stat().st_size > 0
        bootstrap.identity(topology, secrets)
        auth_url = identity_url(topology)
        with bootstrap.admin_client(topology, secrets) as (client, token):
            api = bootstrap.Api(client, auth_url, token)
            other = api.call("POST", "/projects", {"project": {
                "name": "other", "domain_id": "default"}})["project"]
            user = api.call("POST", "/users", {"user": {
                "name": "other", "password": "other-pw", "domain_id": "default"}})["user"]
            member = api.find("roles", "/roles", name="member")
            assert member is not None
            api.call("PUT", f"/projects/{other['id']}/users/{user['id']}/roles/{member['id']}")
            demo = bootstrap.login(client, auth_url, DEMO_USER, secrets.demo_password,
                                   DEMO_PROJECT)
            stranger = bootstrap.login(client, auth_url, "other", "other-pw", "other")
        yield KeyManager(auth_url, urls[Kind.KEY_MANAGER], secrets, demo, stranger)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca("Tricircle Test CA")


def _encrypted(pem_key: str, passphrase: bytes) -> str:
    key = serialization.load_pem_private_key(pem_key.encode(), None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase)).decode()


def test_a_certificate_container_is_read_after_the_user_grants_access(
        km: KeyManager, ca: Ca) -> None:
    leaf = ca.issue("www.example.com", ("www.example.com", "example.com"))
    intermediate = make_ca("Intermediate")
    ref = km.container(certificate=km.store(leaf.certificate),
                       private_key=km.store(_encrypted(leaf.private_key, b"pa55")),
                       private_key_passphrase=km.store("pa55"),
                       intermediates=km.store(intermediate.certificate + ca.certificate))
    manager = km.manager()
    with pytest.raises(CertificateError, match="not allowed"):
        manager.load_certificate(ref)  # the service user is admin of its own project only

    manager.grant_access(ref, km.demo_token)
    manager.grant_access(ref, km.demo_token)  # idempotent
    cert = manager.load_certificate(ref)
    assert cert.certificate == leaf.certificate
    assert cert.private_key == leaf.private_key  # decrypted with the passphrase
    assert cert.intermediates == [intermediate.certificate, ca.certificate]
    assert cert.primary_cn == "www.example.com"
    assert cert.alt_names == ["www.example.com", "example.com"]
    assert "PRIVATE" not in repr(cert)
    acl = km.call("GET", f"/v1/containers/{parse_ref(ref).uuid}/acl", km.demo_token).json()
    assert acl["read"]["users"] == [manager.service_user_id()]
    assert acl["read"]["project-access"] is True


def test_another_project_cannot_read_nor_grant(km: KeyManager, ca: Ca) -> None:
    leaf = ca.issue("private.example.com")
    key_ref = km.store(leaf.private_key)
    ref = km.container(certificate=km.store(leaf.certificate), private_key=key_ref)
    for path in (f"/v1/containers/{parse_ref(ref).uuid}",
                 f"/v1/secrets/{parse_ref(key_ref).uuid}/payload"):
        assert km.call("GET", path, km.other_token).status_code == 403, path
    manager = km.manager()
    with pytest.raises(CertificateError):
        manager.grant_access(ref, km.other_token)
    with pytest.raises(CertificateError, match="not allowed"):
        manager.load_certificate(ref, km.other_token)
    with pytest.raises(CertificateError, match="not allowed"):
        manager.load_certificate(ref)
    assert manager.load_certificate(ref, km.demo_token).certificate == leaf.certificate


def test_a_pkcs12_secret(km: KeyManager, ca: Ca) -> None:
    leaf = ca.issue("p12.example.com", ("p12.example.com",))
    key = serialization.load_pem_private_key(leaf.private_key.encode(), None)
    bundle = pkcs12.serialize_key_and_certificates(
        b"tls", key, x509.load_pem_x509_certificate(leaf.certificate.encode()),
        [ca.cert], serialization.NoEncryption())
    ref = km.store(bundle)
    manager = km.manager()
    manager.grant_access(ref, km.demo_token)
    cert = manager.load_certificate(ref)
    assert (cert.certificate, cert.private_key) == (leaf.certificate, leaf.private_key)
    assert cert.intermediates == [ca.certificate]
    assert cert.primary_cn == "p12.example.com"

    locked = pkcs12.serialize_key_and_certificates(
        b"tls", key, x509.load_pem_x509_certificate(leaf.certificate.encode()),
        None, serialization.BestAvailableEncryption(b"secret"))
    ref = km.store(locked)
    manager.grant_access(ref, km.demo_token)
    with pytest.raises(CertificateError, match="PKCS12 bundle is unreadable"):
        manager.load_certificate(ref)


def test_ca_and_crl_secrets(km: KeyManager, ca: Ca) -> None:
    manager = km.manager()
    ca_ref, crl_ref = km.store(ca.certificate), km.store(ca.crl())
    for ref in (ca_ref, crl_ref):
        manager.grant_access(ref, km.demo_token)
    assert manager.load_secret(ca_ref) == ca.certificate
    assert manager.load_secret(crl_ref).startswith("-----BEGIN X509 CRL-----")


def test_bad_certificates_are_refused_without_key_material(km: KeyManager, ca: Ca) -> None:
    one, two = ca.issue("one.example.com"), ca.issue("two.example.com")
    manager = km.manager()
    mismatched = km.container(certificate=km.store(one.certificate),
                              private_key=km.store(two.private_key))
    wrong_passphrase = km.container(
        certificate=km.store(one.certificate),
        private_key=km.store(_encrypted(one.private_key, b"right")),
        private_key_passphrase=km.store("wrong"))
    not_a_cert = km.container(certificate=km.store("hello"),
                              private_key=km.store(one.private_key))
    cases = {mismatched: "do not match", wrong_passphrase: "passphrase",
             not_a_cert: "Could not read X509"}
    for ref, reason in cases.items():
        manager.grant_access(ref, km.demo_token)
        with pytest.raises(CertificateError, match=reason) as caught:
            manager.load_certificate(ref)
        assert "PRIVATE KEY" not in str(caught.value) and ref in str(caught.value)


def test_refs_are_only_ever_sent_to_the_key_manager(km: KeyManager) -> None:
    manager = km.manager()
    missing = f"{km.url}/v1/containers/00000000-0000-0000-0000-000000000000"
    with pytest.raises(CertificateError, match="not found"):
        manager.load_certificate(missing)
    # Another host's URL with a valid path still asks our key manager for the UUID.
    elsewhere = "http://192.0.2.1:9311/v1/secrets/00000000-0000-0000-0000-000000000000"
    with pytest.raises(CertificateError, match="not found"):
        manager.load_secret(elsewhere)
    for bad in ("", "http://example.com/", f"{km.url}/v1/orders/x", "../../v3/users"):
        with pytest.raises(CertificateError, match="not a key manager"):
            manager.load_certificate(bad)
