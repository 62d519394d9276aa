"""The controller's TLS conversion: rows + certificates → PemFiles and TLS fields,
checked end to end by the amphora's certificate store and ``haproxy -c``."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tls_testing import make_ca
from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.amphora.agent.certificates import CertificateStore
from tricircle_lb.loadbalancer.amphora.haproxy_config import render
from tricircle_lb.loadbalancer.controller import amphora_config

REF = "https://key-manager.example/v1/{}/{}"


@dataclass(frozen=True)
class Cert:
    certificate: str
    private_key: str
    intermediates: list[str] = field(default_factory=list)
    primary_cn: str | None = None
    alt_names: list[str] = field(default_factory=list)


class Barbican:
    """Containers and secrets by reference; a deleted one raises, as the real loader."""

    def __init__(self) -> None:
        self.certificates: dict[str, Cert] = {}
        self.secrets: dict[str, str] = {}
        self.loads: list[str] = []

    def load_certificate(self, ref: str) -> Cert:
        self.loads.append(ref)
        if ref not in self.certificates:
            raise LookupError(f"container {ref} not found")
        return self.certificates[ref]

    def load_secret(self, ref: str) -> str:
        self.loads.append(ref)
        if ref not in self.secrets:
            raise LookupError(f"secret {ref} not found")
        return self.secrets[ref]


def rows(barbican: Barbican) -> models.LoadBalancer:
    ca, inter = make_ca("Root"), make_ca("Intermediate")
    www = ca.issue("www.example.com", ("www.example.com",))
    api = ca.issue("api.example.com", ("api.example.com",))
    client = ca.issue("lb", client=True)
    refs = {name: REF.format("containers", name) for name in ("www", "api", "client")}
    barbican.certificates = {
        refs["www"]: Cert(www.certificate, www.private_key, [inter.certificate]),
        refs["api"]: Cert(api.certificate, api.private_key),
        refs["client"]: Cert(client.certificate, client.private_key)}
    ca_ref, crl_ref = REF.format("secrets", "ca"), REF.format("secrets", "crl")
    barbican.secrets = {ca_ref: ca.certificate, crl_ref: ca.crl()}
    common = {"provisioning_status": "ACTIVE", "admin_state_up": True}
    pool = models.Pool(
        id="p-reenc", protocol="HTTP", lb_algorithm="ROUND_ROBIN", members=[],
        tls_enabled=True, tls_container_ref=refs["client"], ca_tls_container_ref=ca_ref,
        crl_container_ref=crl_ref, tls_versions=["TLSv1.2", "TLSv1.3"], tls_ciphers=None,
        alpn_protocols=["http/1.1"],
        healthmonitor=models.HealthMonitor(
            type="HTTP", delay=3, timeout=2, max_retries=2, max_retries_down=3,
            http_method="GET", url_path="/", expected_codes="200", http_version=1.1,
            domain_name="www.example.com", **common),
        **common)
    member = models.Member(id="m-1", address="10.0.1.5", protocol_port=8080, weight=1,
                           backup=False, monitor_address=None, monitor_port=None, **common)
    plain = models.Pool(id="p-plain", protocol="PROXYV2", lb_algorithm="ROUND_ROBIN",
                        members=[member], tls_enabled=False, healthmonitor=None,
                        **common)
    redirect = models.L7Policy(
        id="pol-1", action="REDIRECT_PREFIX", position=1, redirect_prefix="https://b.example",
        redirect_http_code=301, redirect_pool_id=None, redirect_url=None, rules=[
            models.L7Rule(id="r-1", type="SSL_CONN_HAS_CERT", compare_type="EQUAL_TO",
                          value="True", key=None, invert=True, **common)], **common)
    tls = models.Listener(
        id="l-tls", protocol="TERMINATED_HTTPS", protocol_port=443, default_pool_id="p-reenc",
        connection_limit=-1, timeout_client_data=50000, timeout_member_connect=5000,
        timeout_member_data=50000, timeout_tcp_inspect=0, allowed_cidrs=[],
        insert_headers={"X-SSL-Client-CN": "true"}, l7policies=[redirect],
        default_tls_container_ref=refs["www"], sni_container_refs=[refs["api"], refs["www"]],
        client_authentication="OPTIONAL", client_ca_tls_container_ref=ca_ref,
        client_crl_container_ref=crl_ref, tls_versions=["TLSv1.2", "TLSv1.3"],
        tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256", alpn_protocols=["h2", "http/1.1"],
        hsts_max_age=600, hsts_include_subdomains=False, hsts_preload=False, **common)
    http = models.Listener(
        id="l-http", protocol="HTTP", protocol_port=80, default_pool_id="p-plain",
        connection_limit=-1, timeout_client_data=50000, timeout_member_connect=5000,
        timeout_member_data=50000, timeout_tcp_inspect=0, allowed_cidrs=[], insert_headers={},
        l7policies=[], default_tls_container_ref=None, sni_container_refs=[],
        client_authentication="NONE", **common)
    return models.LoadBalancer(id="lb-1", vip_address="10.0.0.10", listeners=[tls, http],
                               pools=[pool, plain], **common)


def test_rows_and_certificates_become_files_haproxy_accepts(tmp_path: Path) -> None:
    barbican = Barbican()
    lb = rows(barbican)
    config = amphora_config.build(lb, barbican)
    assert len(barbican.loads) == len(set(barbican.loads)) == 5  # each reference once
    tls = config.listeners[0].tls
    assert tls is not None and config.listeners[1].tls is None
    files = {f.name: f.pem for f in config.certificates}
    assert tls.default_certificate in tls.sni_certificates and len(files) == 5
    www = barbican.certificates[lb.listeners[0].default_tls_container_ref or ""]
    # The chain HAProxy loads: certificate, intermediates, key.
    assert files[tls.default_certificate or ""] == (
        www.certificate + www.intermediates[0] + www.private_key)
    assert (tls.client_authentication, tls.versions, tls.alpn_protocols, tls.hsts_max_age) == (
        "OPTIONAL", ("TLSv1.2", "TLSv1.3"), ("h2", "http/1.1"), 600)
    pool = config.pools[0]
    assert pool.tls is not None and pool.tls.ca == tls.client_ca and pool.tls.crl
    assert pool.health_monitor is not None
    assert (pool.health_monitor.http_version, pool.health_monitor.domain_name) == (
        "1.1", "www.example.com")
    assert config.listeners[0].l7policies[0].redirect_prefix == "https://b.example"
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    store = CertificateStore(tmp_path / "certs")
    store.install(config)
    text = render(config, stats_socket=tmp_path / "s", pid_file=tmp_path / "p",
                  open_files_limit=4096, cert_dir=store.directory)
    (tmp_path / "h.cfg").write_text(text)
    proc = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "h.cfg")],
                          capture_output=True, text=True, timeout=10, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr + text
    assert "send-proxy-v2" in text and "verify optional" in text


def test_a_secret_deleted_in_barbican_keeps_the_amphora_copy(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    barbican = Barbican()
    lb = rows(barbican)
    store = CertificateStore(tmp_path / "certs")
    first = amphora_config.build(lb, barbican)
    store.install(first)
    www_ref = lb.listeners[0].default_tls_container_ref or ""
    deleted = barbican.certificates.pop(www_ref)
    with caplog.at_level(logging.WARNING):
        again = amphora_config.build(lb, barbican)
    kept = [f for f in again.certificates if f.pem is None]
    assert [f.name for f in kept] == [again.listeners[0].tls.default_certificate]  # type: ignore[union-attr]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and www_ref in warnings[0] and "keep serving" in warnings[0]
    assert all("PRIVATE KEY" not in r.getMessage() and deleted.private_key not in r.getMessage()
               for r in caplog.records)
    store.install(again)  # the amphora has it: accepted, its copy unchanged
    assert (store.directory / f"{kept[0].name}.pem").read_text() == next(
        f.pem for f in first.certificates if f.name == kept[0].name)
