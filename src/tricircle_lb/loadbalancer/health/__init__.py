"""Amphora health: heartbeats from the amphora agent to the health manager.

``heartbeat`` holds the signed UDP wire format, sender and receiver;
``haproxy_stats`` turns HAProxy's stats socket into heartbeat messages.
"""

from tricircle_lb.loadbalancer.health.haproxy_stats import (
    BackendStats,
    FrontendStats,
    HAProxyStats,
    ServerStats,
    ServerStatus,
    StatsParseError,
    build_message,
    map_server_status,
    parse_stats,
    read_stats,
)
from tricircle_lb.loadbalancer.health.heartbeat import (
    Heartbeat,
    HeartbeatReceiver,
    HeartbeatSender,
    InvalidHeartbeat,
    ListenerStats,
    ListenerStatus,
    PoolStatus,
    ReceiverCounters,
    ReplayGuard,
    decode,
    encode,
)

__all__ = [
    "BackendStats",
    "FrontendStats",
    "HAProxyStats",
    "Heartbeat",
    "HeartbeatReceiver",
    "HeartbeatSender",
    "InvalidHeartbeat",
    "ListenerStats",
    "ListenerStatus",
    "PoolStatus",
    "ReceiverCounters",
    "ReplayGuard",
    "ServerStats",
    "ServerStatus",
    "StatsParseError",
    "build_message",
    "decode",
    "encode",
    "map_server_status",
    "parse_stats",
    "read_stats",
]
