"""The key manager end to end: the real Barbican of a deployment, through the real
``openstack secret`` CLI, and the load-balancer service reading what tenants stored."""

from __future__ import annotations

import configparser
import json
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests_support import OPENSTACK
from tls_testing import make_ca
from tricircle_lb.common.config import AuthConfig
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.loadbalancer.certificates import CertificateError, CertificateManager

if TYPE_CHECKING:
    from tests_support import Cloud

pytestmark = pytest.mark.cloud

STRANGER, STRANGER_PASSWORD = "km-stranger", "km-stranger-pw"


def _manager(cloud: Cloud, region: str = "RegionOne") -> CertificateManager:
    """The load-balancer service's own manager, from the configuration ``up`` wrote."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cloud.state_dir / "etc" / f"loadbalancer-{region}.ini")
    return CertificateManager.from_config(parser, ServiceSession(AuthConfig.from_parser(parser)))


def _store(cloud: Cloud, name: str, payload: str, region: str = "RegionOne") -> str:
    out = cloud.openstack("secret", "store", "--name", name, "--payload-content-type",
                          "text/plain", "--payload", payload, project="demo", region=region)
    return str(out["Secret href"])


def test_barbican_is_in_every_regions_catalog_and_listed_by_status(cloud: Cloud) -> None:
    endpoints = cloud.openstack("endpoint", "list", "--service", "key-manager",
                                "--interface", "public")
    url = f"http://127.0.0.1:{cloud.ports['key-manager']}"
    assert {e["Region"] for e in endpoints} == {"CentralRegion", *cloud.regions}
    assert {e["URL"] for e in endpoints} == {url}
    assert {e["Service Name"] for e in endpoints} == {"barbican"}
    status = json.loads(cloud.cli("status", "--json").stdout)
    mine = [s for s in status["services"] if s["name"] == "key-manager"]
    assert len(mine) == 1 and mine[0]["status"] == "up", mine


def test_a_tenants_certificate_container_is_read_by_the_service(cloud: Cloud) -> None:
    ca = make_ca("Key Manager E2E CA")
    leaf = ca.issue("shop.example.com", ("shop.example.com", "www.shop.example.com"))
    cert_ref = _store(cloud, "shop-cert", leaf.certificate)
    key_ref = _store(cloud, "shop-key", leaf.private_key)
    chain_ref = _store(cloud, "shop-chain", ca.certificate)
    container = cloud.openstack(
        "secret", "container", "create", "--name", "shop", "--type", "certificate",
        "--secret", f"certificate={cert_ref}", "--secret", f"private_key={key_ref}",
        "--secret", f"intermediates={chain_ref}", project="demo")
    ref = str(container["Container href"])
    # One key manager for every region: the same secret from RegionTwo's catalog.
    again = cloud.openstack("secret", "get", "--payload", cert_ref, project="demo",
                            region="RegionTwo")
    assert again["Payload"].strip() == leaf.certificate.strip()

    manager = _manager(cloud)
    with pytest.raises(CertificateError, match="not allowed"):
        manager.load_certificate(ref)
    demo_token = cloud.openstack("token", "issue", project="demo")["id"]
    manager.grant_access(ref, demo_token)
    cert = manager.load_certificate(ref)
    assert (cert.certificate, cert.private_key) == (leaf.certificate, leaf.private_key)
    assert cert.intermediates == [ca.certificate]
    assert cert.primary_cn == "shop.example.com"
    assert cert.alt_names == ["shop.example.com", "www.shop.example.com"]
    acl = cloud.openstack("acl", "get", ref, project="demo")
    assert manager.service_user_id() in acl[0]["Users"]


def test_another_project_cannot_read_a_tenants_secrets(cloud: Cloud) -> None:
    ca = make_ca("Key Manager Stranger CA")
    leaf = ca.issue("mine.example.com")
    key_ref = _store(cloud, "mine-key", leaf.private_key)
    cloud.openstack_raw("project", "create", "km-other")
    cloud.openstack_raw("user", "create", "--password", STRANGER_PASSWORD, STRANGER)
    cloud.openstack_raw("role", "add", "--project", "km-other", "--user", STRANGER, "member")
    env = cloud.env("admin")
    env.update(OS_USERNAME=STRANGER, OS_PASSWORD=STRANGER_PASSWORD,
               OS_PROJECT_NAME="km-other")
    env.pop("OS_CLOUD", None)
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    for args in (["secret", "get", key_ref], ["secret", "get", "--payload", key_ref]):
        result = subprocess.run([OPENSTACK, *args], capture_output=True, text=True, env=env,
                                timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert result.returncode != 0, result.stdout
        assert any(code in result.stderr for code in ("403", "404", "Forbidden",
                                                      "Not Found")), result.stderr
        assert "PRIVATE KEY" not in result.stdout + result.stderr
