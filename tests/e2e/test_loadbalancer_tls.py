"""TLS through the whole deployment: a tenant's certificates stored in the real Barbican,
TERMINATED_HTTPS listeners made with the real ``openstack`` CLI, and HTTPS clients on
lb-net1 answered by members in two regions (lb-backend1 in RegionOne, lb-backend3 in
RegionTwo).

- The certificate picked by SNI; then the secret is deleted in Barbican while in use:
  the listener keeps serving and the service warns.
- Client certificates required (CA and CRL secrets) and passed on in X-SSL-* headers,
  and the pool re-encrypting to members that speak only TLS and want the load
  balancer's own client certificate.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from lb_support import (
    BACKENDS,
    NET1,
    backend_group,
    lb_active,
    listener,
    member,
    pool,
)

from tests_support import Cloud, wait_for
from tls_testing import Ca, Leaf, make_ca

pytestmark = pytest.mark.cloud

PORT = 443
MEMBERS = ("lb-backend1", "lb-backend3")


def _store(cloud: Cloud, name: str, payload: str) -> str:
    out = cloud.openstack("secret", "store", "--name", name, "--payload-content-type",
                          "text/plain", "--payload", payload)
    return str(out["Secret href"])


def _store_pkcs12(cloud: Cloud, name: str, leaf: Leaf) -> str:
    """One secret holding the certificate and its key (Octavia's cookbook way)."""
    out = cloud.openstack("secret", "store", "--name", name, "--payload-content-type",
                          "application/octet-stream", "--payload-content-encoding", "base64",
                          "--payload", base64.b64encode(leaf.pkcs12()).decode())
    return str(out["Secret href"])


def _container(cloud: Cloud, name: str, leaf: Leaf) -> tuple[str, list[str]]:
    secrets = [_store(cloud, f"{name}-cert", leaf.certificate),
               _store(cloud, f"{name}-key", leaf.private_key)]
    made = cloud.openstack("secret", "container", "create", "--name", name, "--type",
                           "certificate", "--secret", f"certificate={secrets[0]}",
                           "--secret", f"private_key={secrets[1]}")
    return str(made["Container href"]), secrets


def _print_service_log(cloud: Cloud) -> None:
    """What the service said, into the failed test's report (down --purge removes it)."""
    log = cloud.state_dir / "log" / "loadbalancer-RegionOne.log"
    print("".join(log.read_text().splitlines(keepends=True)[-80:]) if log.exists()
          else "no load-balancer log")


def _served(cloud: Cloud, vip: str, host: str, ca_file: Path) -> tuple[str, str]:
    """(the certificate's subject, the body) of one HTTPS request naming ``host``."""
    script = (f"openssl s_client -connect {vip}:{PORT} -servername {host} </dev/null "
              f"2>/dev/null | openssl x509 -noout -subject; "
              f"curl -s --max-time 5 --cacert {ca_file} --resolve {host}:{PORT}:{vip} "
              f"https://{host}/ || echo FAIL:$?")
    result = cloud.exec("RegionOne", "sh", "-c", script, network=NET1)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, (result.stdout, result.stderr)
    return lines[0], lines[1]


def test_terminated_https_with_sni_and_a_secret_lost_in_use(
        cloud: Cloud, spec: dict[str, Any], tmp_path: Path) -> None:
    backend_group(cloud)
    ca = make_ca("E2E TLS CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca.certificate)
    shop_ref, shop_secrets = _container(cloud, "tls-shop", ca.issue(
        "shop.example.com", ("shop.example.com",)))
    api_ref, _ = _container(cloud, "tls-api", ca.issue("api.example.com", ("api.example.com",)))
    vip = spec["lb"]["vip_address"]
    try:
        made = listener(cloud, "tls-listener", "TERMINATED_HTTPS", PORT,
                        "--default-tls-container-ref", shop_ref,
                        "--sni-container-refs", api_ref)
        assert made["default_tls_container_ref"] == shop_ref
        pool(cloud, "tls-pool", "tls-listener", "HTTP", "ROUND_ROBIN")
        for backend in MEMBERS:
            member(cloud, "tls-pool", spec, backend)
        lb_active(cloud, "lb-e2e")

        def both(host: str, subject: str) -> bool | None:
            seen = set()
            for _ in range(6):
                got_subject, body = _served(cloud, vip, host, ca_file)
                if subject not in got_subject:
                    return None
                seen.add(body)
            return seen == set(MEMBERS) or None

        wait_for(lambda: both("shop.example.com", "CN = shop.example.com"), 60,
                 what="the default certificate, both members answering")
        assert both("api.example.com", "CN = api.example.com")

        # The tenant deletes the certificate's secrets while the listener uses them.
        for ref in (*shop_secrets, shop_ref):
            ref_kind = "container" if "/containers/" in ref else None
            args = ("secret", "container", "delete", ref) if ref_kind else (
                "secret", "delete", ref)
            assert cloud.openstack_raw(*args).returncode == 0
        # Any change makes the controller push the configuration again.
        changed = cloud.openstack_raw("loadbalancer", "listener", "set", "--connection-limit",
                                      "5000", "--wait", "tls-listener")
        assert changed.returncode == 0, changed.stderr
        lb = lb_active(cloud, "lb-e2e")
        assert lb["provisioning_status"] == "ACTIVE"
        assert both("shop.example.com", "CN = shop.example.com")  # still served
        log = (cloud.state_dir / "log" / "loadbalancer-RegionOne.log").read_text()
        warned = [line for line in log.splitlines()
                  if "could not load" in line and shop_ref in line]
        assert warned and "keep serving the copy they have" in warned[-1], log[-2000:]
        assert not re.search(r"BEGIN (EC |RSA )?PRIVATE KEY", log)
    except BaseException:
        _print_service_log(cloud)
        raise
    finally:
        cloud.openstack_raw("loadbalancer", "listener", "delete", "--wait", "tls-listener")
        cloud.openstack_raw("loadbalancer", "pool", "delete", "--wait", "tls-pool")


# -- client certificates and re-encryption -----------------------------------------------

AUTH_PORT = 8443  # the listener that wants client certificates
MEMBER_TLS_PORT = 8443  # the members' HTTPS servers
SECURE_HOST = "secure.example.com"

# A member that speaks only TLS on MEMBER_TLS_PORT and wants a client certificate the
# member CA signed (the load balancer's); it answers with its host name, that
# certificate's CN and the X-SSL-* headers the load balancer inserted.
TLS_MEMBER = """cat > /tmp/tcl-tls-member.pem <<'PEM'
{pem}PEM
cat > /tmp/tcl-tls-member-ca.pem <<'PEM'
{ca}PEM
cat > /tmp/tcl-tls-member.py <<'PY'
import http.server, socket, ssl
NAME = socket.gethostname()
CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CONTEXT.load_cert_chain("/tmp/tcl-tls-member.pem")
CONTEXT.load_verify_locations("/tmp/tcl-tls-member-ca.pem")
CONTEXT.verify_mode = ssl.CERT_REQUIRED
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    def setup(self):
        super().setup()
        self.request.do_handshake()  # in the handler's thread, not the accept loop
    def do_GET(self):
        peer = dict(x[0] for x in self.request.getpeercert()["subject"])
        body = "%s lb=%s verify=%s dn=%s\\n" % (
            NAME, peer.get("commonName"), self.headers.get("X-SSL-Client-Verify"),
            self.headers.get("X-SSL-Client-DN"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def get_request(self):
        sock, peer = self.socket.accept()
        return CONTEXT.wrap_socket(sock, server_side=True,
                                   do_handshake_on_connect=False), peer
Server(("", {port}), Handler).serve_forever()
PY
nohup python3 /tmp/tcl-tls-member.py >/dev/null 2>&1 &
"""


def _start_tls_member(cloud: Cloud, backend: str, members_ca: Ca) -> None:
    # The load balancer sends the client's SNI and checks the member's certificate for it.
    pem = members_ca.issue(backend, (SECURE_HOST,)).pem
    script = TLS_MEMBER.format(pem=pem, ca=members_ca.certificate, port=MEMBER_TLS_PORT)
    result = cloud.exec(BACKENDS[backend][0], "sh", "-c", script, server=backend)
    assert result.returncode == 0, result.stderr


def _clients(cloud: Cloud, vip: str, ca_file: Path, certs: dict[str, Path | None],
             tries: int = 1) -> dict[str, list[str]]:
    """The answers to HTTPS requests through the listener, ``tries`` per client
    certificate (``None``: without one), each ``FAIL:<curl's code>`` if refused."""
    lines = []
    for label, cert in certs.items():
        option = f"--cert {cert}" if cert else ""
        lines.append(f'for i in $(seq {tries}); do echo "{label} $(curl -s -f --max-time 5 '
                     f'--cacert {ca_file} {option} --resolve {SECURE_HOST}:{AUTH_PORT}:{vip} '
                     f'https://{SECURE_HOST}:{AUTH_PORT}/ || echo FAIL:$?)"; done')
    result = cloud.exec("RegionOne", "sh", "-c", "\n".join(lines), network=NET1)
    assert result.returncode == 0, result.stderr
    answers: dict[str, list[str]] = {label: [] for label in certs}
    for line in result.stdout.splitlines():
        label, _, body = line.partition(" ")
        answers[label].append(body.strip())
    return answers


def test_client_certificates_and_reencryption_to_https_members(
        cloud: Cloud, spec: dict[str, Any], tmp_path: Path) -> None:
    # The members really live in two regions: each one is known to its own region's compute.
    for backend in MEMBERS:
        assert cloud.openstack("server", "show", backend, region=BACKENDS[backend][0])[
            "status"] == "ACTIVE"
    assert {BACKENDS[b][0] for b in MEMBERS} == {"RegionOne", "RegionTwo"}
    group = backend_group(cloud)
    rule = cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol",
                           "tcp", "--dst-port", str(MEMBER_TLS_PORT), group,
                           region="CentralRegion")
    front, members_ca = make_ca("E2E Front CA"), make_ca("E2E Member CA")
    alice, mallory = front.issue("alice", client=True), front.issue("mallory", client=True)
    lb_client = members_ca.issue("lb-client", client=True)
    files = {"ca": front.certificate, "alice": alice.pem, "mallory": mallory.pem,
             "eve": make_ca("E2E Other CA").issue("eve", client=True).pem,
             "member-ca": members_ca.certificate, "lb-client": lb_client.pem}
    for name, text in files.items():
        (tmp_path / f"{name}.pem").write_text(text)
    vip, ip = spec["lb"]["vip_address"], spec["ips"]["lb-backend1"]
    try:
        for backend in MEMBERS:
            _start_tls_member(cloud, backend, members_ca)
        # Listener: its certificate (a PKCS12 secret), the client CA and CRL (PEM secrets).
        server_ref = _store_pkcs12(cloud, "tls-secure", front.issue(SECURE_HOST,
                                                                    (SECURE_HOST,)))
        client_ca_ref = _store(cloud, "tls-client-ca", front.certificate)
        crl_ref = _store(cloud, "tls-client-crl", front.crl((mallory.serial,)))
        made = listener(cloud, "tls-auth-listener", "TERMINATED_HTTPS", AUTH_PORT,
                        "--default-tls-container-ref", server_ref,
                        "--client-ca-tls-container-ref", client_ca_ref,
                        "--client-authentication", "MANDATORY",
                        "--client-crl-container-ref", crl_ref,
                        "--insert-headers", "X-SSL-Client-Verify=true,X-SSL-Client-DN=true")
        assert (made["client_authentication"], made["client_ca_tls_container_ref"],
                made["client_crl_container_ref"]) == ("MANDATORY", client_ca_ref, crl_ref)
        # Pool: re-encrypted, the load balancer's own client certificate, the members' CA.
        lb_cert_ref = _store_pkcs12(cloud, "tls-lb-client", lb_client)
        member_ca_ref = _store(cloud, "tls-member-ca", members_ca.certificate)
        made = pool(cloud, "tls-reencrypt-pool", "tls-auth-listener", "HTTP", "ROUND_ROBIN",
                    "--enable-tls", "--tls-container-ref", lb_cert_ref,
                    "--ca-tls-container-ref", member_ca_ref)
        assert (made["tls_enabled"], made["tls_container_ref"],
                made["ca_tls_container_ref"]) == (True, lb_cert_ref, member_ca_ref)
        for backend in MEMBERS:
            member(cloud, "tls-reencrypt-pool", spec, backend, port=MEMBER_TLS_PORT)
        lb_active(cloud, "lb-e2e")

        ca_file, alice_file = tmp_path / "ca.pem", tmp_path / "alice.pem"
        wait_for(lambda: {a.partition(" ")[0] for a in _clients(
            cloud, vip, ca_file, {"alice": alice_file}, tries=4)["alice"]} == set(MEMBERS)
            or None, 60, what="both HTTPS members answering alice")
        answers = _clients(cloud, vip, ca_file, {
            "alice": alice_file, "none": None, "mallory": tmp_path / "mallory.pem",
            "eve": tmp_path / "eve.pem"}, tries=2)
        # Checked by the listener: no certificate, a revoked one, another CA's: refused.
        for refused in ("none", "mallory", "eve"):
            assert all(a.startswith("FAIL:") for a in answers[refused]), answers
        # alice reached a member over TLS, with the load balancer's certificate, and her
        # certificate's verdict and subject came along in the headers.
        for answer in answers["alice"]:
            name, lb_cn, verify, dn = answer.split(" ", 3)
            assert name in MEMBERS and (lb_cn, verify) == ("lb=lb-client", "verify=0"), answer
            assert dn.startswith("dn=") and "CN=alice" in dn, answer
        # The members speak only TLS: straight to one, with the load balancer's certificate
        # it answers; plain HTTP gets nothing.
        direct = cloud.exec("RegionOne", "sh", "-c", (
            f"curl -s -f --max-time 3 --cacert {tmp_path / 'member-ca.pem'} --cert "
            f"{tmp_path / 'lb-client.pem'} --resolve {SECURE_HOST}:{MEMBER_TLS_PORT}:{ip} "
            f"https://{SECURE_HOST}:{MEMBER_TLS_PORT}/ || echo FAIL:$?; "
            f"curl -s --max-time 3 http://{ip}:{MEMBER_TLS_PORT}/ || echo FAIL:$?"),
            network=NET1)
        assert direct.stdout.splitlines()[0].startswith("lb-backend1 lb=lb-client"), direct
        assert direct.stdout.splitlines()[1].startswith("FAIL:"), direct
    except BaseException:
        _print_service_log(cloud)
        raise
    finally:
        cloud.openstack_raw("loadbalancer", "listener", "delete", "--wait", "tls-auth-listener")
        cloud.openstack_raw("loadbalancer", "pool", "delete", "--wait", "tls-reencrypt-pool")
        cloud.openstack_raw("security", "group", "rule", "delete", str(rule["id"]),
                            region="CentralRegion")
        for backend in MEMBERS:
            cloud.exec(BACKENDS[backend][0], "pkill", "-f", "tcl-tls-member", server=backend)
