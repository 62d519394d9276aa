"""``[amphora_agent]`` options: the amphora's ``amphora-agent.conf`` (its user-data)."""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from tricircle_lb.common.config import ConfigError, get_float, get_int, get_list

SECTION = "amphora_agent"


def parse_endpoint(item: str, option: str = "controller_ip_port_list") -> tuple[str, int]:
    """``10.1.0.2:5555`` or ``[fd00::2]:5555`` → (address, port)."""
    host, sep, port = item.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ConfigError(f"[{SECTION}] {option}: bad entry {item!r}") from None
    if not sep or not 0 < number < 65536:
        raise ConfigError(f"[{SECTION}] {option}: bad entry {item!r}")
    return host, number


def _endpoints(parser: configparser.ConfigParser, option: str) -> tuple[tuple[str, int], ...]:
    return tuple(parse_endpoint(i, option) for i in get_list(parser, SECTION, option))


@dataclass(frozen=True)
class AmphoraAgentConfig:
    amphora_id: str
    # This amphora's own key (decision 076; Octavia's option name): it signs the
    # heartbeats and is the only key the agent API accepts requests under.
    heartbeat_key: str
    controller_ip_port_list: tuple[tuple[str, int], ...] = ()
    agent_port: int = 9443
    # "::" listens on every IPv4 and IPv6 address (falls back to 0.0.0.0 without IPv6).
    bind_address: str = "::"
    heartbeat_interval: float = 1.0
    haproxy_binary: str = "/usr/sbin/haproxy"
    keepalived_binary: str = "/usr/sbin/keepalived"
    nginx_binary: str = "/usr/sbin/nginx"  # UDP listeners (decision 087)
    # Several amphorae share one machine's open-files budget: this bounds the
    # descriptors one HAProxy may use (4500 gives a maxconn of about 2000).
    open_files_limit: int = 4500
    plug_timeout: float = 30.0  # how long /plug/* waits for the host agent
    # Log offloading (Octavia's options): syslog over UDP to the region's receivers.
    # Admin: HAProxy's own and this agent's logs (local1); tenant: flow logs (local0).
    admin_log_targets: tuple[tuple[str, int], ...] = ()
    tenant_log_targets: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> bytes:
        return self.heartbeat_key.encode("utf-8")

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> AmphoraAgentConfig:
        if not parser.has_section(SECTION):
            raise ConfigError(f"missing section [{SECTION}]")
        try:
            amphora_id = parser.get(SECTION, "amphora_id")
            key = parser.get(SECTION, "heartbeat_key")
        except configparser.NoOptionError as exc:
            raise ConfigError(str(exc)) from exc
        if not amphora_id or not key:
            raise ConfigError(f"[{SECTION}] amphora_id and heartbeat_key must not be empty")
        interval = get_float(parser, SECTION, "heartbeat_interval", cls.heartbeat_interval)
        port = get_int(parser, SECTION, "agent_port", cls.agent_port)
        if interval <= 0 or not 0 <= port < 65536:
            raise ConfigError(f"[{SECTION}] heartbeat_interval must be > 0, agent_port a port")
        return cls(
            amphora_id=amphora_id,
            heartbeat_key=key,
            controller_ip_port_list=_endpoints(parser, "controller_ip_port_list"),
            admin_log_targets=_endpoints(parser, "admin_log_targets"),
            tenant_log_targets=_endpoints(parser, "tenant_log_targets"),
            agent_port=port,
            bind_address=parser.get(SECTION, "bind_address", fallback=cls.bind_address),
            heartbeat_interval=interval,
            haproxy_binary=parser.get(SECTION, "haproxy_binary", fallback=cls.haproxy_binary),
            keepalived_binary=parser.get(SECTION, "keepalived_binary",
                                         fallback=cls.keepalived_binary),
            nginx_binary=parser.get(SECTION, "nginx_binary", fallback=cls.nginx_binary),
            open_files_limit=get_int(parser, SECTION, "open_files_limit", cls.open_files_limit),
            plug_timeout=get_float(parser, SECTION, "plug_timeout", cls.plug_timeout),
        )

    @classmethod
    def read(cls, path: Path) -> AmphoraAgentConfig:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            found = parser.read(path)
        except configparser.Error as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        if not found:
            raise ConfigError(f"cannot read configuration file {path}")
        return cls.from_parser(parser)
