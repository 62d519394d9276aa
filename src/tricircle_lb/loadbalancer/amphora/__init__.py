"""The amphora driver: HAProxy configuration for a load balancer's desired state."""

from tricircle_lb.loadbalancer.amphora.haproxy_config import (
    ConfigRenderError,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancerConfig,
    Member,
    Pool,
    SessionPersistence,
    global_maxconn,
    render,
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
