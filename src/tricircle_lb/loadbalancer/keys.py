"""The secrets of one amphora and of one load balancer (decision 076).

- **Agent key**, one per amphora (``Amphora.agent_key``): made with the row, handed to
  the amphora in its user-data, and the only key its agent accepts requests under
  (``amphora/agent/auth.py``) and signs its heartbeats with. The controller signs
  its calls to that amphora with it; the health manager verifies a heartbeat with
  the key of the amphora the heartbeat names.
- **VRRP password**, one per load balancer (``LoadBalancer.vrrp_auth_pass``): keepalived's
  ``authentication { auth_type PASS }`` of both amphorae of a pair; 8 characters, the
  most keepalived's PASS keeps.

Rows made before these columns existed have ``NULL`` there. Their amphorae were
booted with the deployment's ``heartbeat_key`` and keep it until they are failed
over (a replacement gets a key of its own); their pairs keep the password derived
from that key, as before, so a survivor and its replacement still agree.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

VRRP_PASSWORD_LENGTH = 8  # keepalived truncates a longer PASS silently
_ALPHABET = string.ascii_letters + string.digits


def new_agent_key() -> str:
    """A fresh amphora agent key: 256 random bits, URL-safe text (it goes in an INI file)."""
    return secrets.token_urlsafe(32)


def new_vrrp_password() -> str:
    """A fresh VRRP password: 8 letters and digits (about 47 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(VRRP_PASSWORD_LENGTH))


def agent_key(own: str | None, deployment_key: str) -> str:
    """The key an amphora's agent holds: its own, or (made before keys per amphora) the
    deployment's heartbeat key it was booted with."""
    return own or deployment_key


def vrrp_password(own: str | None, lb_id: str, deployment_key: str) -> str:
    """The load balancer's VRRP password: its own, or (made before passwords were stored)
    the one derived from the deployment's key that its amphorae already run with."""
    if own:
        return own
    digest = hmac.new(deployment_key.encode(), lb_id.encode(), hashlib.sha256).hexdigest()
    return digest[:VRRP_PASSWORD_LENGTH]
