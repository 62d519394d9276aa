"""The amphora driver: HAProxy configuration for a load balancer's desired state."""

from tricircle_lb.loadbalancer.amphora.haproxy_config import (
    ConfigRenderError,
    global_maxconn,
    render,
)
from tricircle_lb.loadbalancer.amphora.model import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
)

__all__ = [
    "ConfigRenderError",
    "HealthMonitor",
    "L7Policy",
    "L7Rule",
    "Listener",
    "LoadBalancerConfig",
    "Member",
    "Pool",
    "SessionPersistence",
    "global_maxconn",
    "render",
]
