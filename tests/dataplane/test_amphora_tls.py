"""Acceptance: the amphora terminates TLS, re-encrypts, speaks PROXY and exports metrics,
with real packets through real namespaces (the lab of ``test_amphora``: the agent in
``amp``, clients in ``cli``, members in ``mem`` at 10.0.1.30).

Members here are HAProxy frontends that answer with what they saw::

    tls     10.0.1.30:8443  TLS (member CA), asks for a client certificate, echoes the
                            client certificate's CN, the SNI and the X-SSL/X-Forwarded headers
    proxy   10.0.1.30:8100  accept-proxy (v1 and v2), echoes the source address
    m1      10.0.1.30:8001  plain HTTP (a TLS-HELLO monitor must find it DOWN)
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from dataplane_testing import eventually, in_ns, sh
from test_amphora import AMP_IP, KEY, MEMBER_IP, VIP, VRRP_MAC, Lab, _next_heartbeat, lab

from tls_testing import Leaf, make_ca
from tricircle_lb.dataplane.netns_socket import socket_in
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
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient, AmphoraError, AmphoraRefused

pytestmark = pytest.mark.root
__all__ = ["lab"]  # the lab fixture of test_amphora

CLIENT_IP = "10.0.1.20"


class Pki:
    def __init__(self, tmp: Path) -> None:
        self.front = make_ca("Front CA")  # the listener's certificates and its clients'
        self.members = make_ca("Member CA")  # the members' certificates and the LB's client one
        self.www = self.front.issue("www.example.com", ("www.example.com",))
        self.api = self.front.issue("api.example.com", ("api.example.com",))
        self.alice = self.front.issue("alice", client=True)
        self.mallory = self.front.issue("mallory", client=True)
        self.member = self.members.issue("member", ("www.example.com", "api.example.com"))
        self.lb_client = self.members.issue("lb-client", client=True)
        self.tmp = tmp

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)


def _members(lab: Lab, pki: Pki) -> None:
    member_pem = pki.file("member.pem", pki.member.pem)
    lb_ca = pki.file("member-client-ca.pem", pki.members.certificate)
    echo = ("client=%[ssl_c_s_dn(cn)] sni=%[ssl_fc_sni] proto=%[req.hdr(X-Forwarded-Proto)] "
            "cn=%[req.hdr(X-SSL-Client-CN)] verify=%[req.hdr(X-SSL-Client-Verify)] "
            "has=%[req.hdr(X-SSL-Client-Has-Cert)]")
    cfg = pki.file("tls-members.cfg", f"""defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend tls
    bind {MEMBER_IP}:8443 ssl crt {member_pem} ca-file {lb_ca} verify optional
    http-request return status 200 content-type text/plain lf-string "{echo}"
frontend proxy
    bind {MEMBER_IP}:8100 accept-proxy
    http-request return status 200 content-type text/plain lf-string "src=%[src]"
""")
    sh("ip", "netns", "exec", lab.prefix + "mem", "haproxy", "-D", "-f", cfg)


def _config(pki: Pki, *, keep: tuple[str, ...] = ()) -> LoadBalancerConfig:
    pems = {"www": pki.www.pem, "api": pki.api.pem, "front-ca": pki.front.certificate,
            "front-crl": pki.front.crl((pki.mallory.serial,)),
            "lb-client": pki.lb_client.pem, "member-ca": pki.members.certificate}
    files = tuple(PemFile(name, None if name in keep else pem) for name, pem in pems.items())
    tls = ListenerTls(default_certificate="www", sni_certificates=("api",),
                      client_authentication="MANDATORY", client_ca="front-ca",
                      client_crl="front-crl", versions=("TLSv1.2", "TLSv1.3"),
                      alpn_protocols=("h2", "http/1.1"), hsts_max_age=3600,
                      hsts_include_subdomains=True)
    headers = {"X-Forwarded-Proto": True, "X-SSL-Client-CN": True, "X-SSL-Client-Verify": True,
               "X-SSL-Client-Has-Cert": True}
    tls_member = Member("tls", MEMBER_IP, 8443)
    return LoadBalancerConfig(
        id="lb1", vip_address=VIP, certificates=files,
        listeners=(
            Listener("https", "TERMINATED_HTTPS", 443, default_pool_id="reenc", tls=tls,
                     insert_headers=headers),
            Listener("http", "HTTP", 80, default_pool_id="proxy1"),
            Listener("tcp", "TCP", 81, default_pool_id="proxy2"),
            Listener("metrics", "PROMETHEUS", 9100),
            Listener("hello", "TCP", 8443, default_pool_id="hello"),
            # Client certificates optional, judged by L7 rules instead.
            Listener("optional", "TERMINATED_HTTPS", 8444, default_pool_id="reenc",
                     tls=replace(tls, client_authentication="OPTIONAL", client_crl=None),
                     l7policies=(
                         L7Policy("no-cert", "REJECT", 1, rules=(L7Rule(
                             "has-cert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "True",
                             invert=True),)),
                         L7Policy("mallory", "REDIRECT_PREFIX", 2, rules=(L7Rule(
                             "cn-mallory", "SSL_DN_FIELD", "EQUAL_TO", "mallory", key="CN"),),
                             redirect_prefix="https://jail.example.com", redirect_http_code=307),
                         L7Policy("verified", "REJECT", 3, rules=(L7Rule(
                             "verify-ok", "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True),)),
                     )),
        ),
        pools=(
            Pool("reenc", "HTTP", "ROUND_ROBIN", (tls_member,),
                 tls=PoolTls(client_certificate="lb-client", ca="member-ca"),
                 health_monitor=HealthMonitor("HTTP", delay=1, timeout=1, max_retries=1,
                                              http_version="1.1",
                                              domain_name="www.example.com")),
            Pool("proxy1", "PROXY", "ROUND_ROBIN", (Member("proxy", MEMBER_IP, 8100),)),
            Pool("proxy2", "PROXYV2", "ROUND_ROBIN", (Member("proxy", MEMBER_IP, 8100),)),
            Pool("hello", "TCP", "ROUND_ROBIN", (tls_member, Member("m1", MEMBER_IP, 8001)),
                 health_monitor=HealthMonitor("TLS-HELLO", delay=1, timeout=1, max_retries=1,
                                              max_retries_down=1)),
        ),
    )


def _tls(lab: Lab, pki: Pki, sni: str | None, client: Leaf | None = None,
         alpn: tuple[str, ...] = ("http/1.1",), port: int = 443) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=pki.file("front-ca.pem", pki.front.certificate))
    context.check_hostname = sni is not None
    if client is not None:
        context.load_cert_chain(pki.file(f"{client.cn}.pem", client.pem))
    context.set_alpn_protocols(list(alpn))
    raw = socket_in(lab.cli, socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(5)
    raw.connect((VIP, port))
    return context.wrap_socket(raw, server_hostname=sni)


def _get(sock: ssl.SSLSocket, host: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, 443, timeout=5)
    conn.sock = sock
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    return response


def _body(lab: Lab, pki: Pki, client: Leaf | None) -> str:
    sock = _tls(lab, pki, "www.example.com", client)
    try:
        conn = http.client.HTTPConnection("www.example.com", 443, timeout=5)
        conn.sock = sock
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        sock.close()


def _cn(sock: ssl.SSLSocket) -> str:
    cert = sock.getpeercert()
    assert cert is not None
    return str(dict(x[0] for x in cert["subject"])["commonName"])


def _refused(lab: Lab, pki: Pki, client: Leaf | None) -> bool:
    """The listener refuses the client (the handshake or the first read fails)."""
    try:
        _body(lab, pki, client)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException):
        return True
    return False


def test_tls_termination_reencryption_proxy_and_metrics(lab: Lab, tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    _members(lab, pki)
    client = AmphoraClient(lab.ctl, KEY, timeout=20)

    def up() -> bool:
        with contextlib.suppress(AmphoraError):
            return bool(client.info(AMP_IP)["amphora_id"])
        return False

    assert eventually(up, timeout=20), (tmp_path / "agent.log").read_text()
    sh("ip", "-n", lab.amp, "link", "set", "eth1", "up")
    client.plug_vip(AMP_IP, VIP, 24, VRRP_MAC)
    assert client.put_config(AMP_IP, _config(pki)) == ["https", "http", "tcp", "metrics",
                                                       "hello", "optional"]

    # SNI picks the certificate; no SNI gets the default one.
    for sni, cn in (("www.example.com", "www.example.com"), ("api.example.com",
                                                              "api.example.com")):
        with _tls(lab, pki, sni, pki.alice) as sock:
            assert _cn(sock) == cn
    with _tls(lab, pki, None, pki.alice) as sock:
        assert _cn(sock) == "www.example.com"
    # ALPN offers HTTP/2 (and curl speaks it through the listener).
    with _tls(lab, pki, "www.example.com", pki.alice, alpn=("h2", "http/1.1")) as sock:
        assert sock.selected_alpn_protocol() == "h2"
    curl = in_ns(lab.cli, "curl", "-s", "--http2", "-o", "/dev/null", "-w", "%{http_version}",
                 "--cacert", str(tmp_path / "front-ca.pem"), "--cert",
                 str(tmp_path / "alice.pem"), "--resolve", f"www.example.com:443:{VIP}",
                 "https://www.example.com/")
    assert curl.stdout == "2", curl.stderr

    # Client certificates: required, checked against the CA and the CRL.
    assert _refused(lab, pki, None)
    assert _refused(lab, pki, pki.mallory)  # revoked
    assert _refused(lab, pki, make_ca("Other CA").issue("eve", client=True))
    body = _body(lab, pki, pki.alice)
    # Re-encrypted to the member with the LB's client certificate, the client's SNI passed on.
    assert body == ("client=lb-client sni=www.example.com proto=https cn=alice verify=0 "
                    "has=1"), body
    with _tls(lab, pki, "www.example.com", pki.alice) as sock:
        response = _get(sock, "www.example.com")
    assert response.getheader("Strict-Transport-Security") == (
        "max-age=3600; includeSubDomains;")

    # OPTIONAL client certificates and the SSL L7 rules: no certificate is rejected, a
    # CN is redirected (the path kept); a certificate that does not verify still fails
    # the handshake (HAProxy's "verify optional", as Octavia sets it).
    def answer(client: Leaf | None) -> tuple[int, str | None]:
        with _tls(lab, pki, "www.example.com", client, port=8444) as sock:
            conn = http.client.HTTPConnection("www.example.com", 8444, timeout=5)
            conn.sock = sock
            conn.request("GET", "/a/b?c=1")
            response = conn.getresponse()
            response.read()
            return response.status, response.getheader("Location")

    assert answer(None) == (403, None)
    assert answer(pki.mallory) == (307, "https://jail.example.com/a/b?c=1")  # no CRL here
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        answer(make_ca("Other CA").issue("eve", client=True))
    assert answer(pki.alice) == (200, None)

    # PROXY v1 and v2: the member sees the client's own address.
    for port in (80, 81):
        got = in_ns(lab.cli, "curl", "-s", "-m", "3", f"http://{VIP}:{port}/")
        assert got.stdout == f"src={CLIENT_IP}", (port, got.stdout, got.stderr)
    # PROMETHEUS: HAProxy's exporter on the listener's port.
    metrics = in_ns(lab.cli, "curl", "-s", "-m", "3", f"http://{VIP}:9100/metrics").stdout
    assert "haproxy_process_" in metrics and 'haproxy_frontend_http_requests_total{proxy="https"}' \
        in metrics, metrics[:500]
    # TLS-HELLO: a TLS handshake; the plain HTTP member fails it. The HTTP check of
    # the re-encrypting pool goes over TLS too.
    hb = _next_heartbeat(lab, lambda hb: bool(hb.pools.get("hello")) and hb.pools[
        "hello"].members == {"tls": "UP", "m1": "DOWN"} and bool(hb.pools.get("reenc"))
        and hb.pools["reenc"].members == {"tls": "UP"}, timeout=15)
    assert hb is not None

    # Files: the amphora's own, 0600, in a 0700 directory.
    certs = lab.state / "certs"
    assert stat.S_IMODE(os.stat(certs).st_mode) == 0o700
    assert sorted(p.name for p in certs.iterdir()) == sorted(
        [f"{n}.pem" for n in ("www", "api", "front-ca", "front-crl", "lb-client", "member-ca")]
        + ["https.crtlist", "optional.crtlist"])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in certs.iterdir())

    # Barbican lost the secrets: the controller sends names only, the amphora keeps serving.
    kept = _config(pki, keep=("www", "api", "front-ca"))
    assert client.put_config(AMP_IP, kept)
    assert _body(lab, pki, pki.alice).startswith("client=lb-client")
    # A listener never served here cannot be kept: refused, the text of no key in the answer.
    new = replace(kept, certificates=(*kept.certificates, PemFile("gone")), listeners=(
        replace(kept.listeners[0], tls=replace(kept.listeners[0].tls, sni_certificates=(
            "api", "gone"))), *kept.listeners[1:]))
    with pytest.raises(AmphoraRefused) as refused:
        client.put_config(AMP_IP, new)
    assert "gone.pem is not on this amphora" in refused.value.message
    assert _body(lab, pki, pki.alice).startswith("client=lb-client")  # HAProxy untouched

    # A listener removed: its files go with it; deleting the configuration removes the rest.
    full = _config(pki)
    plain = replace(full, listeners=tuple(li for li in full.listeners if li.tls is None),
                    certificates=tuple(
        f for f in full.certificates if f.name in ("lb-client", "member-ca")))
    client.put_config(AMP_IP, plain)
    assert sorted(p.name for p in certs.iterdir()) == ["lb-client.pem", "member-ca.pem"]
    client.delete_config(AMP_IP)
    assert not certs.exists()
    log = (tmp_path / "agent.log").read_text()
    assert "PRIVATE KEY" not in log and "BEGIN" not in log
