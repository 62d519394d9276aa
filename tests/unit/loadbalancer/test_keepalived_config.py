"""keepalived.conf as the amphora agent renders it: the load balancer's own VRRP
password (issue 10, decision 076), which every password the controller makes passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from tricircle_lb.loadbalancer import keys
from tricircle_lb.loadbalancer.amphora.agent.keepalived import InvalidVrrp, Keepalived, VrrpConfig


def _vrrp(auth_pass: str) -> VrrpConfig:
    return VrrpConfig(interface="eth1", vip="10.0.1.10", prefixlen=24, vrrp_ip="10.0.1.11",
                      peers=("10.0.1.12",), priority=100, vrid=1, advert_int=1,
                      auth_pass=auth_pass)


def test_the_load_balancers_password_is_keepaliveds_pass(tmp_path: Path) -> None:
    keepalived = Keepalived("/usr/sbin/keepalived", tmp_path, cast(Any, None))
    passwords = {keys.new_vrrp_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == keys.VRRP_PASSWORD_LENGTH
        text = keepalived.render(_vrrp(password))
        block = text[text.index("authentication {"):]
        block = block[:block.index("}")]
        assert "auth_type PASS" in block
        assert f"auth_pass {password}\n" in block


def test_a_password_keepalived_would_truncate_is_refused() -> None:
    with pytest.raises(InvalidVrrp, match="auth_pass"):
        _vrrp("ninechars")


def test_legacy_password_is_derived_from_the_deployment_key() -> None:
    derived = keys.vrrp_password(None, "lb-1", "deployment-key")
    assert derived == keys.vrrp_password(None, "lb-1", "deployment-key")
    assert derived != keys.vrrp_password(None, "lb-2", "deployment-key")
    assert len(derived) == 8 and _vrrp(derived).auth_pass == derived
    assert keys.vrrp_password("Own12345", "lb-1", "deployment-key") == "Own12345"
