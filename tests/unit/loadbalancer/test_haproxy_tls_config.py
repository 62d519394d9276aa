"""TLS, PROXY, PROMETHEUS and the newer monitor and L7 features, rendered and checked by
the real ``haproxy -c`` with real certificate files (made with ``cryptography``)."""

from __future__ import annotations

import dataclasses
import http.server
import os
import resource
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from tls_testing import Ca, make_ca
from tricircle_lb.loadbalancer.amphora import codec
from tricircle_lb.loadbalancer.amphora.agent.certificates import (
    CertificateRefused,
    CertificateStore,
)
from tricircle_lb.loadbalancer.amphora.haproxy_config import ConfigRenderError, render
from tricircle_lb.loadbalancer.amphora.model import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    ListenerTls,
    LoadBalancerConfig,
    Member,
    PemFile,
    Pool,
    PoolTls,
)

HAPROXY = shutil.which("haproxy")
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
LB, VIP = "0b0c1e7a-0000-4000-8000-000000000001", "10.0.10.100"
L_TLS, L_PROM, L_UDP, L_HTTP = "l-tls", "l-prom", "l-udp", "l-http"
P_WEB, P_PROXY, P_PROXY2, P_REENC, P_UDP = "p-web", "p-proxy", "p-proxy2", "p-reenc", "p-udp"


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca("Tricircle Test CA")


def pem_files(ca: Ca) -> tuple[PemFile, ...]:
    www = ca.issue("www.example.com", ("www.example.com",))
    api = ca.issue("api.example.com", ("api.example.com",))
    client = ca.issue("lb-client", client=True)
    return (PemFile("c-www", www.pem), PemFile("c-api", api.pem),
            PemFile("c-ca", ca.certificate), PemFile("c-crl", ca.crl()),
            PemFile("c-client", client.pem))


def tls_config(ca: Ca, **tls: object) -> LoadBalancerConfig:
    listener_tls = ListenerTls(
        default_certificate="c-www", sni_certificates=("c-api", "c-www"),
        client_authentication="MANDATORY", client_ca="c-ca", client_crl="c-crl",
        versions=("TLSv1.2", "TLSv1.3"), ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA"
        "-CHACHA20-POLY1305", alpn_protocols=("h2", "http/1.1"), hsts_max_age=31536000,
        hsts_include_subdomains=True, hsts_preload=True)
    listener_tls = dataclasses.replace(listener_tls, **tls)  # type: ignore[arg-type]
    ssl_rules = (
        L7Rule("r-cert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "True", invert=True),
        L7Rule("r-verify", "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True),
        L7Rule("r-dn", "SSL_DN_FIELD", "STARTS_WITH", "lb-", key="CN"))
    policies = (
        L7Policy("pol-1", "REJECT", 1, rules=ssl_rules[:1]),
        L7Policy("pol-2", "REJECT", 2, rules=ssl_rules[1:2]),
        L7Policy("pol-3", "REDIRECT_TO_POOL", 3, rules=ssl_rules[2:], redirect_pool_id=P_PROXY),
        L7Policy("pol-4", "REDIRECT_PREFIX", 4,
                 rules=(L7Rule("r-old", "PATH", "STARTS_WITH", "/old"),),
                 redirect_prefix="https://new.example.com/50%", redirect_http_code=308),
    )
    headers = {h: True for h in ("X-Forwarded-For", "X-Forwarded-Proto", "X-SSL-Client-Verify",
                                 "X-SSL-Client-Has-Cert", "X-SSL-Client-DN", "X-SSL-Client-CN",
                                 "X-SSL-Issuer", "X-SSL-Client-SHA1", "X-SSL-Client-Not-Before",
                                 "X-SSL-Client-Not-After")}
    check = HealthMonitor("HTTP", 2, 1, 2, url_path="/health", http_version="1.1",
                          domain_name="www.example.com")
    members = (Member("m1", "10.0.20.11", 443), Member("m2", "10.0.20.12", 443))
    return LoadBalancerConfig(
        id=LB, vip_address=VIP, certificates=pem_files(ca),
        listeners=(
            Listener(L_TLS, "TERMINATED_HTTPS", 443, default_pool_id=P_REENC, tls=listener_tls,
                     insert_headers=headers, l7policies=policies),
            Listener(L_PROM, "PROMETHEUS", 9100, allowed_cidrs=("10.0.0.0/8",)),
            Listener(L_HTTP, "HTTP", 80, default_pool_id=P_PROXY2),
            Listener(L_UDP, "UDP", 53, default_pool_id=P_UDP),
        ),
        pools=(
            Pool(P_REENC, "HTTP", "ROUND_ROBIN", members, health_monitor=check,
                 tls=PoolTls(client_certificate="c-client", ca="c-ca", crl="c-crl",
                             versions=("TLSv1.3",), ciphers="ECDHE-ECDSA-AES256-GCM-SHA384",
                             alpn_protocols=("http/1.1",))),
            Pool(P_PROXY, "PROXY", "ROUND_ROBIN", members[:1],
                 health_monitor=HealthMonitor("TLS-HELLO", 3, 2, 2)),
            Pool(P_PROXY2, "PROXYV2", "ROUND_ROBIN", members[1:],
                 health_monitor=HealthMonitor("HTTP", 3, 2, 2, http_version="1.0",
                                              domain_name="ignored.example.com"),
                 tls=PoolTls()),
            Pool(P_UDP, "UDP", "ROUND_ROBIN", (Member("m9", "10.0.20.9", 53),)),
        ),
    )


def install_and_check(cfg: LoadBalancerConfig, tmp_path: Path) -> str:
    if HAPROXY is None:
        pytest.skip("haproxy is not installed")
    store = CertificateStore(tmp_path / "certs")
    store.install(cfg)
    text = render(cfg, stats_socket=tmp_path / "s.sock", pid_file=tmp_path / "p",
                  open_files_limit=NOFILE, cert_dir=store.directory)
    (tmp_path / "haproxy.cfg").write_text(text)
    proc = subprocess.run([HAPROXY, "-c", "-f", str(tmp_path / "haproxy.cfg")],
                          capture_output=True, text=True, timeout=10, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "WARNING" not in out and "ALERT" not in out, out + text
    return text


def section(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    body = []
    for line in lines[lines.index(header) + 1:]:
        if not line.startswith("    "):
            break
        body.append(line.strip())
    return body


@needs_haproxy
def test_terminated_https_listener(ca: Ca, tmp_path: Path) -> None:
    text = install_and_check(tls_config(ca), tmp_path)
    certs = tmp_path / "certs"
    fe = section(text, f"frontend {L_TLS}")
    assert fe[:2] == ["mode http", (
        f"bind {VIP}:443 ssl crt-list '{certs}/{L_TLS}.crtlist' ca-file '{certs}/c-ca.pem' "
        f"verify required crl-file '{certs}/c-crl.pem' ciphers ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305 no-sslv3 no-tlsv10 no-tlsv11 alpn h2,http/1.1")]
    # The default certificate first, each certificate once.
    assert (certs / f"{L_TLS}.crtlist").read_text() == f"{certs}/c-www.pem\n{certs}/c-api.pem\n"
    assert "http-request redirect scheme https unless { ssl_fc }" in fe
    assert ("http-response set-header Strict-Transport-Security "
            "'max-age=31536000; includeSubDomains; preload;'") in fe
    assert "http-request set-header X-Forwarded-Proto https" in fe
    for line in ("X-SSL-Client-Verify %[ssl_c_verify]", "X-SSL-Client-Has-Cert %[ssl_c_used]",
                 "X-SSL-Client-DN %{+Q}[ssl_c_s_dn]", "X-SSL-Client-CN %{+Q}[ssl_c_s_dn(cn)]",
                 "X-SSL-Issuer %{+Q}[ssl_c_i_dn]", "X-SSL-Client-SHA1 %{+Q}[ssl_c_sha1,hex]",
                 "X-SSL-Client-Not-Before %{+Q}[ssl_c_notbefore]",
                 "X-SSL-Client-Not-After %{+Q}[ssl_c_notafter]"):
        assert f"http-request set-header {line}" in fe
    assert "acl r-cert ssl_c_used" in fe
    assert "acl r-verify ssl_c_verify eq 0" in fe
    assert "acl r-dn ssl_c_s_dn(CN) -m beg -- 'lb-'" in fe
    assert "http-request set-var(txn.tlb_l7) int(1) if !{ var(txn.tlb_l7) -m found } !r-cert" in fe
    assert ("http-request redirect prefix 'https://new.example.com/50%%' code 308 "
            "if { var(txn.tlb_l7) -m int 4 }") in fe
    assert f"default_backend {P_REENC}:{L_TLS}" in fe


@needs_haproxy
def test_pools_reencrypt_and_speak_proxy(ca: Ca, tmp_path: Path) -> None:
    text = install_and_check(tls_config(ca), tmp_path)
    certs = tmp_path / "certs"
    be = section(text, f"backend {P_REENC}:{L_TLS}")
    assert "option httpchk GET '/health' HTTP/1.1" in be
    assert "http-check send hdr Host www.example.com" in be
    assert be[-1] == (
        "server m2 10.0.20.12:443 weight 1 check inter 2s fall 3 rise 2 check-alpn http/1.1 ssl "
        f"crt '{certs}/c-client.pem' ca-file '{certs}/c-ca.pem' verify required "
        f"crl-file '{certs}/c-crl.pem' sni ssl_fc_sni ciphers ECDHE-ECDSA-AES256-GCM-SHA384 "
        "no-sslv3 no-tlsv10 no-tlsv11 no-tlsv12 alpn http/1.1")
    # From a TLS-terminating listener, PROXY v1; TLS-HELLO is a real handshake.
    assert section(text, f"backend {P_PROXY}:{L_TLS}")[-1] == (
        "server m1 10.0.20.11:443 weight 1 check check-ssl verify none inter 3s fall 3 rise 2 "
        "send-proxy")
    be2 = section(text, f"backend {P_PROXY2}:{L_HTTP}")
    assert "option httpchk GET '/' HTTP/1.0" in be2  # a Host header only for HTTP/1.1
    assert not any(line.startswith("http-check send") for line in be2)
    assert be2[-1] == ("server m2 10.0.20.12:443 weight 1 check inter 3s fall 3 rise 2 "
                       "send-proxy-v2 ssl verify none sni ssl_fc_sni")


@needs_haproxy
def test_prometheus_listener_and_udp_left_out(ca: Ca, tmp_path: Path) -> None:
    text = install_and_check(tls_config(ca), tmp_path)
    assert section(text, f"frontend {L_PROM}")[-1] == "http-request use-service prometheus-exporter"
    assert f"frontend {L_UDP}" not in text and P_UDP not in text


@needs_haproxy
def test_client_authentication_modes(ca: Ca, tmp_path: Path) -> None:
    for mode, verify in (("NONE", "none"), ("OPTIONAL", "optional")):
        text = install_and_check(tls_config(ca, client_authentication=mode, client_crl=None),
                                 tmp_path)
        assert f"ca-file '{tmp_path}/certs/c-ca.pem' verify {verify} ciphers" in text
    text = install_and_check(tls_config(ca, client_ca=None, client_crl=None,
                                        client_authentication="NONE", versions=None,
                                        ciphers=None, alpn_protocols=None, hsts_max_age=None,
                                        sni_certificates=()), tmp_path)
    assert f"bind {VIP}:443 ssl crt-list '{tmp_path}/certs/{L_TLS}.crtlist'\n" in text
    assert "Strict-Transport-Security" not in text


def test_tls_refusals(ca: Ca, tmp_path: Path) -> None:
    cfg = tls_config(ca)

    def refused(bad: LoadBalancerConfig, field: str) -> None:
        with pytest.raises(ConfigRenderError, match=field):
            render(bad, stats_socket=tmp_path / "s", pid_file=tmp_path / "p",
                   open_files_limit=NOFILE, cert_dir=tmp_path / "certs")

    tls_listener = cfg.listeners[0]
    assert tls_listener.tls is not None

    def with_tls(**change: object) -> LoadBalancerConfig:
        tls = dataclasses.replace(tls_listener.tls, **change)  # type: ignore[arg-type]
        return dataclasses.replace(cfg, listeners=(dataclasses.replace(tls_listener, tls=tls),))

    refused(with_tls(default_certificate="c-missing"), r"tls.certificates: no certificate file")
    refused(with_tls(client_ca=None), r"tls.client_ca: required by client_authentication")
    refused(with_tls(ciphers="ALL; bind :22"), r"tls.ciphers")
    refused(with_tls(alpn_protocols=("h2 ssl",)), r"tls.alpn_protocols")
    refused(with_tls(versions=("TLSv9",)), r"tls.versions")
    refused(dataclasses.replace(cfg, listeners=(dataclasses.replace(tls_listener, tls=None),)),
            r"TERMINATED_HTTPS needs a certificate")
    http = dataclasses.replace(tls_listener, protocol="HTTP", tls=None, l7policies=())
    refused(dataclasses.replace(cfg, listeners=(http,)), r"X-SSL-Client-Verify only for")
    with pytest.raises(ConfigRenderError, match="certificate directory"):
        render(cfg, stats_socket=tmp_path / "s", pid_file=tmp_path / "p", open_files_limit=NOFILE)
    rule = L7Rule("r-v", "SSL_VERIFY_RESULT", "EQUAL_TO", "0 || 1")
    policy = L7Policy("pol-9", "REJECT", 9, rules=(rule,))
    refused(dataclasses.replace(cfg, listeners=(dataclasses.replace(
        tls_listener, l7policies=(policy,)),)), "SSL_VERIFY_RESULT takes an integer")


def test_certificate_files_are_private_atomic_and_pruned(ca: Ca, tmp_path: Path) -> None:
    cfg = tls_config(ca)
    store = CertificateStore(tmp_path / "certs")
    store.install(cfg)
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    names = sorted(p.name for p in store.directory.iterdir())
    assert names == sorted([f"{f.name}.pem" for f in cfg.certificates] + [f"{L_TLS}.crtlist"])
    for path in store.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    www = store.directory / "c-www.pem"
    assert www.read_text() == cfg.certificates[0].pem
    inode = www.stat().st_ino
    rotated = dataclasses.replace(cfg, certificates=(
        PemFile("c-www", ca.issue("www.example.com").pem), *cfg.certificates[1:]))
    store.install(rotated)
    assert www.stat().st_ino != inode  # replaced by rename, never rewritten in place
    # The controller could not fetch c-www again: the amphora keeps its copy.
    kept = dataclasses.replace(cfg, certificates=(PemFile("c-www"), *cfg.certificates[1:]))
    store.install(kept)
    assert www.read_text() == rotated.certificates[0].pem
    # A listener gone: its files go once HAProxy runs without it.
    store.prune(dataclasses.replace(cfg, listeners=cfg.listeners[1:], certificates=()))
    assert list(store.directory.iterdir()) == []
    with pytest.raises(CertificateRefused, match=r"c-www\.pem is not on this amphora"):
        store.install(kept)
    store.remove()
    assert not store.directory.exists()


def test_certificate_text_never_in_errors_or_reprs(ca: Ca, tmp_path: Path) -> None:
    cfg = tls_config(ca)
    key = cfg.certificates[0].pem
    assert key is not None and "PRIVATE KEY" in key
    assert "PRIVATE KEY" not in repr(cfg) and "BEGIN" not in repr(cfg)
    bad = dataclasses.replace(cfg, certificates=(PemFile("c-www", key.replace("-----BEGIN ",
                                                                              "xxx")),))
    with pytest.raises(CertificateRefused) as refused:
        CertificateStore(tmp_path / "certs").install(bad)
    assert "PRIVATE" not in str(refused.value) and "xxx" not in str(refused.value)
    # The codec carries the PEM text (and keeps a missing one missing).
    again = codec.from_json(codec.to_json(dataclasses.replace(
        cfg, certificates=(*cfg.certificates, PemFile("c-kept")))))
    assert again.certificates[0].pem == key and again.certificates[-1].pem is None
    assert again == dataclasses.replace(cfg, certificates=(*cfg.certificates, PemFile("c-kept")))


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.requestline, self.headers.get("Host")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@needs_haproxy
@pytest.mark.parametrize(("version", "domain", "request_line", "host"), [
    ("1.1", "health.example.com", "GET /check?x=1 HTTP/1.1", "health.example.com"),
    ("1.0", "health.example.com", "GET /check?x=1 HTTP/1.0", None),
    (None, None, "GET /check?x=1 HTTP/1.0", None),
])
def test_http_monitor_sends_version_and_host(tmp_path: Path, version: str | None,
                                             domain: str | None, request_line: str,
                                             host: str | None) -> None:
    """A running HAProxy on 127.0.0.1 checks a member that records what it was sent."""
    assert HAPROXY is not None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socketserver_port() as port:
        check = HealthMonitor("HTTP", 1, 1, 1, url_path="/check?x=1", http_version=version,
                              domain_name=domain)
        cfg = LoadBalancerConfig(LB, "127.0.0.1", (Listener(L_HTTP, "HTTP", port, P_WEB),), (
            Pool(P_WEB, "HTTP", "ROUND_ROBIN", (Member("m1", "127.0.0.1",
                                                       server.server_address[1]),),
                 health_monitor=check),))
        path = tmp_path / "live.cfg"
        path.write_text(render(cfg, stats_socket=tmp_path / "s", pid_file=tmp_path / "p",
                               open_files_limit=NOFILE))
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _Recorder.seen and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            proc.terminate()
            proc.wait(10)
            server.shutdown()
            server.server_close()
    assert _Recorder.seen and _Recorder.seen[0] == (request_line, host)


class socketserver_port:
    """A free TCP port on 127.0.0.1 (released before HAProxy binds it)."""

    def __enter__(self) -> int:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
