"""What the amphora driver renders: a load balancer's desired state, typed.

Built by the controller from the API's objects (ids, never names, reach the
HAProxy file); :mod:`haproxy_config` validates every field as it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["HTTP", "HTTPS", "TCP", "UDP"]  # UDP: nginx, not HAProxy (udp_config)
# Listeners also terminate TLS or export metrics; pools also speak the PROXY protocol.
ListenerProtocol = Literal[Protocol, "TERMINATED_HTTPS", "PROMETHEUS", "SCTP"]
PoolProtocol = Literal[Protocol, "PROXY", "PROXYV2", "SCTP"]
Algorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"]
PersistenceType = Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]
MonitorType = Literal["HTTP", "HTTPS", "TCP", "PING", "UDP-CONNECT", "TLS-HELLO", "SCTP"]
PolicyAction = Literal["REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX", "REJECT"]
RuleType = Literal["PATH", "HOST_NAME", "HEADER", "COOKIE", "FILE_TYPE",
                   "SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD"]
CompareType = Literal["EQUAL_TO", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "REGEX"]
ClientAuthentication = Literal["NONE", "OPTIONAL", "MANDATORY"]
TlsVersion = Literal["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

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
    http_version: str | None = None  # "1.0" or "1.1"; None: HAProxy's default (1.0)
    domain_name: str | None = None  # the Host header of HTTP/1.1 checks


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
class PemFile:
    """A PEM file for the amphora (certificate chain and key, CA bundle or CRL).

    ``name`` is what the TLS fields below refer to. ``pem`` None asks the amphora
    to keep the copy it already has (the controller could not fetch the secret
    again: decision 085). Never in a repr, so never in a log line."""
    name: str
    pem: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ListenerTls:
    """TLS termination on a listener; the certificate fields are :class:`PemFile` names."""
    default_certificate: str | None = None
    sni_certificates: tuple[str, ...] = ()
    client_authentication: ClientAuthentication = "NONE"
    client_ca: str | None = None
    client_crl: str | None = None
    versions: tuple[TlsVersion, ...] | None = None  # None: HAProxy's defaults
    ciphers: str | None = None
    alpn_protocols: tuple[str, ...] | None = None
    hsts_max_age: int | None = None  # None: no Strict-Transport-Security header
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False


@dataclass(frozen=True)
class PoolTls:
    """Re-encryption to a pool's members (Octavia's ``tls_enabled``)."""
    client_certificate: str | None = None  # PemFile names
    ca: str | None = None  # verify members against it; None: verify none
    crl: str | None = None
    versions: tuple[TlsVersion, ...] | None = None
    ciphers: str | None = None
    alpn_protocols: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Pool:
    id: str
    protocol: PoolProtocol
    lb_algorithm: Algorithm
    members: tuple[Member, ...] = ()
    session_persistence: SessionPersistence | None = None
    health_monitor: HealthMonitor | None = None
    tls: PoolTls | None = None  # None: plain connections to the members


@dataclass(frozen=True)
class L7Rule:
    id: str
    type: RuleType
    compare_type: CompareType
    value: str
    key: str | None = None  # HEADER, COOKIE and SSL_DN_FIELD
    invert: bool = False


@dataclass(frozen=True)
class L7Policy:
    id: str
    action: PolicyAction
    position: int
    rules: tuple[L7Rule, ...] = ()
    redirect_url: str | None = None
    redirect_pool_id: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int = 302  # REDIRECT_TO_URL/PREFIX: 301, 302, 303, 307 or 308


@dataclass(frozen=True)
class Listener:
    id: str
    protocol: ListenerProtocol
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
    tls: ListenerTls | None = None  # TERMINATED_HTTPS (and PROMETHEUS with a certificate)


@dataclass(frozen=True)
class LoadBalancerConfig:
    id: str
    vip_address: str
    listeners: tuple[Listener, ...] = ()
    pools: tuple[Pool, ...] = ()
    peers: None = None  # active/standby peers: not yet
    certificates: tuple[PemFile, ...] = ()  # what the TLS fields name
    project_id: str = ""  # the owner, first field of each flow-log line
