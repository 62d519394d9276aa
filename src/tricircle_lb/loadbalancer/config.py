"""``[loadbalancer]``, ``[health_manager]`` and ``[quotas]`` options of a region's
load-balancer service. docs/configuration.md documents each one."""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass, field

from tricircle_lb.common.config import ConfigError, get_float, get_int, get_list

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Octavia's defaults: -1 is unlimited.
DEFAULT_QUOTAS: dict[str, int] = {
    "loadbalancer": -1, "listener": -1, "pool": -1, "healthmonitor": -1, "member": -1,
    "l7policy": -1, "l7rule": -1,
}


@dataclass(frozen=True)
class HealthManagerConfig:
    """Heartbeats and failure detection (seconds, not Octavia's minutes: demo-sized)."""

    heartbeat_key: str
    bind_port: int = 5555
    heartbeat_interval: float = 1.0     # how often an amphora sends
    heartbeat_timeout: float = 6.0      # silence after which an amphora has failed
    health_check_interval: float = 1.0  # how often the manager looks for silent amphorae
    failover_threshold: int = 0         # >0: stop failing over when this many amphorae are down

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> HealthManagerConfig:
        s = "health_manager"
        key = parser.get(s, "heartbeat_key", fallback="")
        if not key:
            raise ConfigError("[health_manager] heartbeat_key is required")
        cfg = cls(
            heartbeat_key=key,
            bind_port=get_int(parser, s, "bind_port", cls.bind_port),
            heartbeat_interval=get_float(parser, s, "heartbeat_interval", cls.heartbeat_interval),
            heartbeat_timeout=get_float(parser, s, "heartbeat_timeout", cls.heartbeat_timeout),
            health_check_interval=get_float(parser, s, "health_check_interval",
                                            cls.health_check_interval),
            failover_threshold=get_int(parser, s, "failover_threshold", 0),
        )
        if cfg.heartbeat_timeout <= 2 * cfg.heartbeat_interval:
            raise ConfigError("[health_manager] heartbeat_timeout must exceed twice "
                              "heartbeat_interval")
        return cfg


@dataclass(frozen=True)
class LoadBalancerConfig:
    """Where the service runs and how it builds amphorae."""

    region_name: str
    central_region_name: str = "CentralRegion"
    availability_zone: str = ""
    # The amphora: image (by name or tag), flavor, management network and groups.
    amp_image_name: str = "amphora-x64-haproxy"
    amp_flavor_id: str = "1"
    mgmt_network_name: str = ""
    mgmt_security_group: str = "lb-mgmt-sec-grp"
    # The controller's end of the management network: the namespace the
    # health-manager port is plugged into (Octavia's o-hm0) and that port's name.
    controller_host: str = ""
    controller_namespace: str = ""
    health_manager_port_name: str = ""
    amp_agent_port: int = 9443
    # Topology of load balancers created without a flavor: SINGLE or ACTIVE_STANDBY.
    default_topology: str = "SINGLE"
    # How long the controller waits for things it asked for.
    amp_active_timeout: float = 120.0
    # A configuration push returns once HAProxy listens: slow on a loaded host.
    amp_request_timeout: float = 30.0
    default_quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    # Every amphora management network of the deployment: a member or monitor address
    # there would let a tenant's HAProxy reach amphora agents (refused).
    reserved_member_cidrs: tuple[IpNetwork, ...] = ()

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> LoadBalancerConfig:
        s = "loadbalancer"
        if not parser.has_section(s):
            raise ConfigError("missing section [loadbalancer]")
        region = parser.get(s, "region_name", fallback="")
        if not region:
            raise ConfigError("[loadbalancer] region_name is required")
        quotas = {name: get_int(parser, "quotas", f"quota_{name}", default)
                  for name, default in DEFAULT_QUOTAS.items()}
        return cls(
            region_name=region,
            central_region_name=parser.get(s, "central_region_name",
                                           fallback=cls.central_region_name),
            availability_zone=parser.get(s, "availability_zone", fallback=""),
            amp_image_name=parser.get(s, "amp_image_name", fallback=cls.amp_image_name),
            amp_flavor_id=parser.get(s, "amp_flavor_id", fallback=cls.amp_flavor_id),
            mgmt_network_name=parser.get(s, "mgmt_network_name", fallback=""),
            mgmt_security_group=parser.get(s, "mgmt_security_group",
                                           fallback=cls.mgmt_security_group),
            controller_host=parser.get(s, "controller_host", fallback=""),
            controller_namespace=parser.get(s, "controller_namespace", fallback=""),
            health_manager_port_name=parser.get(s, "health_manager_port_name", fallback=""),
            amp_agent_port=get_int(parser, s, "amp_agent_port", cls.amp_agent_port),
            default_topology=_topology(parser.get(s, "default_topology",
                                                  fallback=cls.default_topology)),
            amp_active_timeout=get_float(parser, s, "amp_active_timeout",
                                         cls.amp_active_timeout),
            amp_request_timeout=get_float(parser, s, "amp_request_timeout",
                                          cls.amp_request_timeout),
            default_quotas=quotas,
            reserved_member_cidrs=_cidrs(get_list(parser, s, "reserved_member_cidrs")),
        )


def _cidrs(items: list[str]) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(i, strict=True) for i in items)
    except ValueError as exc:
        raise ConfigError(f"[loadbalancer] reserved_member_cidrs: {exc}") from exc


TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")


def _topology(value: str) -> str:
    if value not in TOPOLOGIES:
        raise ConfigError(f"[loadbalancer] default_topology must be one of {', '.join(TOPOLOGIES)}")
    return value
