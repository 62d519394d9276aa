"""TERMINATED_HTTPS listeners and their TLS fields through the real Octavia API.

The key manager is the edge here: a stand-in with Barbican's contract as
``loadbalancer/certificates.py`` exposes it (grant_access with the user's token,
load_certificate / load_secret raising CertificateError) replaces the app's
CertificateManager; the real one is tested against Barbican in
tests/unit/loadbalancer/test_certificates.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from lb_testing import LbCloud, fault
from networking_testing import ok

from tricircle_lb.loadbalancer import models
from tricircle_lb.loadbalancer.certificates import CertificateError

LISTENERS = "/v2/lbaas/listeners"
Body = dict[str, Any]
CERT = "http://km.test/v1/containers/11111111-1111-4111-8111-111111111111"
SNI = "http://km.test/v1/containers/22222222-2222-4222-8222-222222222222"
CA = "http://km.test/v1/secrets/33333333-3333-4333-8333-333333333333"
CRL = "http://km.test/v1/secrets/44444444-4444-4444-8444-444444444444"


class KeyManager:
    """Refs the demo project stored; what the API asked of it."""

    def __init__(self) -> None:
        self.certificates = {CERT, SNI}
        self.secrets = {CA, CRL}
        self.granted: list[tuple[str, str]] = []

    def grant_access(self, ref: str, user_token: str) -> None:
        if ref not in self.certificates | self.secrets or user_token != "demo-token":
            raise CertificateError(ref, "not found")
        self.granted.append((ref, user_token))

    def load_certificate(self, ref: str, user_token: str | None = None) -> object:
        if ref not in self.certificates:
            raise CertificateError(ref, "not a certificate container")
        return object()

    def load_secret(self, ref: str, user_token: str | None = None) -> str:
        if ref not in self.secrets:
            raise CertificateError(ref, "not found")
        return "-----BEGIN CERTIFICATE-----"


@pytest.fixture
def km(lb_cloud: LbCloud) -> KeyManager:
    manager = KeyManager()
    lb_cloud.lb_apps["RegionOne"].state.certificates = manager
    return manager


@pytest.fixture
def lb(lb_cloud: LbCloud) -> Body:
    net = lb_cloud.network("net1", token="demo-token")
    sub = lb_cloud.subnet(net["id"], "10.0.1.0/24", token="demo-token")
    result: Body = ok(lb_cloud.lb(token="demo-token").post("/v2/lbaas/loadbalancers", json={
        "loadbalancer": {"vip_subnet_id": sub["id"]}}), 201)["loadbalancer"]
    lb_cloud.settle(result["id"])
    return result


def post(cloud: LbCloud, lb: Body, token: str = "demo-token", **attrs: Any) -> Any:
    body = {"loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS",
            "protocol_port": 443, **attrs}
    return cloud.lb(token=token).post(LISTENERS, json={"listener": body})


def test_terminated_https_stores_tls_fields_with_octavias_defaults(
        lb_cloud: LbCloud, lb: Body, km: KeyManager) -> None:
    listener = ok(post(lb_cloud, lb, default_tls_container_ref=CERT,
                       sni_container_refs=[SNI], client_authentication="OPTIONAL",
                       client_ca_tls_container_ref=CA, client_crl_container_ref=CRL,
                       hsts_max_age=3600, hsts_preload=True,
                       insert_headers={"X-SSL-Client-CN": "true"}), 201)["listener"]
    assert (listener["default_tls_container_ref"], listener["sni_container_refs"]) == (
        CERT, [SNI])
    assert (listener["client_authentication"], listener["client_ca_tls_container_ref"],
            listener["client_crl_container_ref"]) == ("OPTIONAL", CA, CRL)
    assert listener["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert listener["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert listener["tls_ciphers"].startswith("TLS_AES_128_GCM_SHA256:")
    assert (listener["hsts_max_age"], listener["hsts_preload"],
            listener["hsts_include_subdomains"]) == (3600, True, False)
    # Access granted with the user's token before anything was stored.
    assert {ref for ref, _ in km.granted} == {CERT, SNI, CA, CRL}
    with lb_cloud.lb_db().read() as session:
        row = session.get(models.Listener, listener["id"])
        assert row is not None and row.sni_container_refs == [SNI]
        assert row.tls_versions == ["TLSv1.2", "TLSv1.3"]
    lb_cloud.settle(lb["id"])
    url = f"{LISTENERS}/{listener['id']}"
    demo = lb_cloud.lb(token="demo-token")
    updated = ok(demo.put(url, json={"listener": {"tls_versions": ["TLSv1.3"],
                                                  "alpn_protocols": ["h2"]}}))["listener"]
    assert (updated["tls_versions"], updated["alpn_protocols"]) == (["TLSv1.3"], ["h2"])
    lb_cloud.settle(lb["id"])
    reset = ok(demo.put(url, json={"listener": {"tls_versions": None}}))["listener"]
    assert reset["tls_versions"] == ["TLSv1.2", "TLSv1.3"]


@pytest.mark.parametrize(("attrs", "status", "text"), [
    ({}, 400, "Validation failure: An SNI or default certificate container reference must "
              "be provided for TERMINATED_HTTPS protocol listeners."),
    ({"default_tls_container_ref": "http://km.test/v1/containers/nope"}, 400,
     "Could not retrieve certificate: ['http://km.test/v1/containers/nope']"),
    ({"default_tls_container_ref": CA}, 400, f"Could not retrieve certificate: ['{CA}']"),
    ({"default_tls_container_ref": CERT, "client_authentication": "MANDATORY"}, 400,
     "Validation failure: Client authentication setting MANDATORY requires a client CA "
     "container reference."),
    ({"default_tls_container_ref": CERT, "client_crl_container_ref": CRL}, 400,
     "Validation failure: A client authentication CA reference is required to specify a "
     "client authentication revocation list."),
    ({"client_ca_tls_container_ref": CA}, 400, "Validation failure: An SNI or default "
     "certificate container reference must be provided with a client CA container "
     "reference."),
    ({"default_tls_container_ref": CERT, "hsts_preload": True}, 400,
     "hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set"),
    ({"default_tls_container_ref": CERT, "tls_versions": ["TLSv1.2", "TLSv4"]}, 400,
     "Validation failure: Invalid TLS versions: TLSv4"),
    ({"default_tls_container_ref": CERT, "tls_versions": []}, 400,
     "Validation failure: Empty TLS version list. Either specify at least one TLS version "
     "or remove this parameter to use the default."),
    ({"default_tls_container_ref": CERT, "alpn_protocols": []}, 400,
     "Validation failure: Empty ALPN protocol list."),
    ({"default_tls_container_ref": CERT, "tls_ciphers": "ECDHE RSA"}, 400,
     "Invalid characters in cipher string."),
])
def test_bad_tls_listeners_create_nothing(lb_cloud: LbCloud, lb: Body, km: KeyManager,
                                          attrs: Body, status: int, text: str) -> None:
    assert text in fault(post(lb_cloud, lb, **attrs), status)
    assert ok(lb_cloud.lb().get(LISTENERS))["listeners"] == []


def test_another_projects_certificate_is_not_retrievable(lb_cloud: LbCloud, lb: Body,
                                                          km: KeyManager) -> None:
    """Cross-project: the alt project cannot use the demo project's certificate on its
    own load balancer (the key manager refuses its token), nor touch demo's listener."""
    net = lb_cloud.network("alt-net", token="alt-token")
    sub = lb_cloud.subnet(net["id"], "10.0.9.0/24", token="alt-token")
    alt_lb = ok(lb_cloud.lb(token="alt-token").post("/v2/lbaas/loadbalancers", json={
        "loadbalancer": {"vip_subnet_id": sub["id"]}}), 201)["loadbalancer"]
    lb_cloud.settle(alt_lb["id"])
    text = fault(post(lb_cloud, alt_lb, token="alt-token", default_tls_container_ref=CERT),
                 400)
    assert text == f"Could not retrieve certificate: ['{CERT}']"
    assert fault(post(lb_cloud, lb, token="alt-token", default_tls_container_ref=CERT),
                 403) == "Policy does not allow this request to be performed."
    assert km.granted == []


def test_without_a_key_manager_no_reference_is_retrievable(lb_cloud: LbCloud,
                                                           lb: Body) -> None:
    lb_cloud.lb_apps["RegionOne"].state.certificates = None
    text = fault(post(lb_cloud, lb, default_tls_container_ref=CERT), 400)
    assert text == f"Could not retrieve certificate: ['{CERT}']"


def test_prometheus_and_udp_listeners(lb_cloud: LbCloud, lb: Body) -> None:
    """PROMETHEUS takes no pool; UDP is stored; SCTP is the provider's 501."""
    demo = lb_cloud.lb(token="demo-token")
    prom = ok(demo.post(LISTENERS, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "PROMETHEUS", "protocol_port": 9100}}),
        201)["listener"]
    assert prom["protocol"] == "PROMETHEUS" and prom["tls_versions"] is None
    lb_cloud.settle(lb["id"])
    text = fault(demo.post("/v2/lbaas/pools", json={"pool": {
        "listener_id": prom["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}), 400)
    assert text == "Protocol PROMETHEUS listeners cannot have child objects."
    text = fault(demo.post("/v2/lbaas/l7policies", json={"l7policy": {
        "listener_id": prom["id"], "action": "REJECT"}}), 400)
    assert text == "Protocol PROMETHEUS listeners cannot have child objects."
