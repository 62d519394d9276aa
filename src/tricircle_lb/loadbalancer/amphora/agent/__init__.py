"""The amphora agent: the process inside an amphora that the controller talks to.

It serves a small HMAC-signed HTTP API on the management network (:mod:`.server`,
:mod:`.auth`), plugs the VIP (:mod:`.interfaces`), drives HAProxy (:mod:`.haproxy`)
and sends heartbeats to the health managers (:mod:`.heartbeats`).
"""

from tricircle_lb.loadbalancer.amphora.agent.auth import SignatureError
from tricircle_lb.loadbalancer.amphora.agent.config import AmphoraAgentConfig
from tricircle_lb.loadbalancer.amphora.agent.haproxy import HAProxy, HAProxyFailed, InvalidConfig
from tricircle_lb.loadbalancer.amphora.agent.server import (
    API_VERSION,
    AgentServer,
    AmphoraApi,
    make_server,
)

__all__ = [
    "API_VERSION",
    "AgentServer",
    "AmphoraAgentConfig",
    "AmphoraApi",
    "HAProxy",
    "HAProxyFailed",
    "InvalidConfig",
    "SignatureError",
    "make_server",
]
