"""What the amphora driver renders: a load balancer's desired state, typed.

Built by the controller from the API's objects (ids, never names, reach the
HAProxy file); :mod:`haproxy_config` validates every field as it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["HTTP", "HTTPS", "TCP", "UDP"]  # UDP: nginx, not HAProxy (udp_config)
Algorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"]
PersistenceType = Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
MonitorType = Literal["HTTP", "HTTPS", "TCP", "PING", "UDP-CONNECT"]
PolicyAction = Literal["REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REJECT"]
RuleType = Literal["PATH", "HOST_NAME", "HEADER", "COOKIE", "FILE_TYPE"]
CompareType = Literal["EQUAL_TO", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "REGEX"]

@dataclass(frozen=True)
class HealthMonitor:
    type: MonitorType
    delay: int  # seconds between checks
    timeout: int  # seconds
    max_retries: int  # successes to go up (rise)
    max_retries_down: int = 3  # failures to go down (fall)
    http_method: str = "GET"
    url_path: str = "/"
    expected_codes: str = "200"


@dataclass(frozen=True)
class Member:
    id: str
    address: str
    protocol_port: int
    weight: int = 1  # 0..256; 0 drains (kept in the file, no new traffic)
    backup: bool = False
    admin_state_up: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclass(frozen=True)
class SessionPersistence:
    type: PersistenceType
    cookie_name: str | None = None  # APP_COOKIE only
    persistence_timeout: int | None = None  # UDP pools: seconds
    persistence_granularity: str | None = None  # UDP pools: a netmask, as 255.255.255.0


@dataclass(frozen=True)
class Pool:
    id: str
    protocol: Protocol
    lb_algorithm: Algorithm
    members: tuple[Member, ...] = ()
    session_persistence: SessionPersistence | None = None
    health_monitor: HealthMonitor | None = None


@dataclass(frozen=True)
class L7Rule:
    id: str
    type: RuleType
    compare_type: CompareType
    value: str
    key: str | None = None  # HEADER and COOKIE
    invert: bool = False


@dataclass(frozen=True)
class L7Policy:
    id: str
    action: PolicyAction
    position: int
    rules: tuple[L7Rule, ...] = ()
    redirect_url: str | None = None
    redirect_pool_id: str | None = None
    redirect_http_code: int = 302  # REDIRECT_TO_URL: 301, 302, 303, 307 or 308


@dataclass(frozen=True)
class Listener:
    id: str
    protocol: Protocol
    protocol_port: int
    default_pool_id: str | None = None
    connection_limit: int = -1  # -1: unlimited (the global maxconn)
    timeout_client_data: int = 50000  # milliseconds, as Octavia
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    insert_headers: Mapping[str, bool | str] = field(default_factory=dict)
    allowed_cidrs: tuple[str, ...] = ()
    l7policies: tuple[L7Policy, ...] = ()


@dataclass(frozen=True)
class LoadBalancerConfig:
    id: str
    vip_address: str
    listeners: tuple[Listener, ...] = ()
    pools: tuple[Pool, ...] = ()
    peers: None = None  # active/standby peers: not yet
