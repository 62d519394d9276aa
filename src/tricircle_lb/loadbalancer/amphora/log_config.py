"""HAProxy's ``log`` lines for log offloading (Octavia's admin and tenant targets).

Administrative logs (HAProxy's own: reloads, servers going up and down) go to the
admin targets with facility ``local1`` from ``global``; each frontend sends one
line per request in Octavia's flow format (:mod:`..logs.flow_format`) to the tenant
targets with facility ``local0``. Both are UDP syslog: HAProxy never waits on them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from tricircle_lb.loadbalancer.logs.flow_format import flow_log_format

Target = tuple[str, int]
# Octavia's: long enough for a flow line with a client certificate's DN.
MAX_LINE = 2048


@dataclass(frozen=True)
class LogTargets:
    """The agent's ``admin_log_targets`` and ``tenant_log_targets``."""

    admin: tuple[Target, ...] = ()
    tenant: tuple[Target, ...] = ()


NO_LOG_TARGETS = LogTargets()


def _address(target: Target) -> str:
    host, port = target
    ip = ipaddress.ip_address(host)  # a ValueError reaches the caller as a bad config
    if not 0 < port < 65536:
        raise ValueError(f"bad log target port {port}")
    return f"ipv6@{ip}:{port}" if ip.version == 6 else f"{ip}:{port}"


def global_lines(admin: Sequence[Target]) -> list[str]:
    return [f"log {_address(t)} len {MAX_LINE} local1" for t in admin]


def frontend_lines(tenant: Sequence[Target], project_id: str, loadbalancer_id: str,
                   listener_id: str) -> list[str]:
    """A frontend's flow-log lines; none without targets or without a project (a
    configuration from before flow logs: it has nobody to file them under)."""
    if not tenant or not project_id:
        return []
    return [*(f"log {_address(t)} len {MAX_LINE} local0" for t in tenant),
            f"log-format {flow_log_format(project_id, loadbalancer_id, listener_id)}"]
