"""TLS through the whole deployment: a tenant's certificates stored in the real Barbican,
a TERMINATED_HTTPS listener made with the real ``openstack`` CLI, and HTTPS clients on
lb-net1 answered by the members, the certificate picked by SNI. Then the secret is
deleted in Barbican while in use: the listener keeps serving and the service warns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lb_support import NET1, backend_group, lb_active, listener, member, pool

from tests_support import Cloud, wait_for
from tls_testing import Leaf, make_ca

pytestmark = pytest.mark.cloud

PORT = 443
MEMBERS = ("lb-backend1", "lb-backend3")


def _store(cloud: Cloud, name: str, payload: str) -> str:
    out = cloud.openstack("secret", "store", "--name", name, "--payload-content-type",
                          "text/plain", "--payload", payload)
    return str(out["Secret href"])


def _container(cloud: Cloud, name: str, leaf: Leaf) -> tuple[str, list[str]]:
    secrets = [_store(cloud, f"{name}-cert", leaf.certificate),
               _store(cloud, f"{name}-key", leaf.private_key)]
    made = cloud.openstack("secret", "container", "create", "--name", name, "--type",
                           "certificate", "--secret", f"certificate={secrets[0]}",
                           "--secret", f"private_key={secrets[1]}")
    return str(made["Container href"]), secrets


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
        # What the service said goes into the test's report (down --purge removes it).
        log = cloud.state_dir / "log" / "loadbalancer-RegionOne.log"
        print("".join(log.read_text().splitlines(keepends=True)[-80:]) if log.exists()
              else "no load-balancer log")
        raise
    finally:
        cloud.openstack_raw("loadbalancer", "listener", "delete", "--wait", "tls-listener")
        cloud.openstack_raw("loadbalancer", "pool", "delete", "--wait", "tls-pool")
