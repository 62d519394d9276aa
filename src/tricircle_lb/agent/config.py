"""``[agent]`` options (docs/configuration.md)."""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from tricircle_lb.common.config import ConfigError, get_float, get_int, get_list

SECTION = "agent"


def parse_mappings(items: list[str]) -> dict[str, str]:
    """``physnet1:pn0,physnet2:pn1`` → ``{"physnet1": "pn0", "physnet2": "pn1"}``."""
    mappings: dict[str, str] = {}
    for item in items:
        physnet, sep, device = item.partition(":")
        if not sep or not physnet.strip() or not device.strip():
            raise ConfigError(f"[{SECTION}] physical_interface_mappings: bad entry {item!r}")
        mappings[physnet.strip()] = device.strip()
    return mappings


@dataclass(frozen=True)
class AgentConfig:
    host: str
    region_name: str
    tunnel_ip: str
    state_dir: Path
    underlay_device: str = "ul0"
    physical_interface_mappings: dict[str, str] = field(default_factory=dict)
    poll_interval: float = 1.0
    report_interval: float = 10.0
    metrics_port: int = -1  # -1: no /metrics; 0: any free port on 127.0.0.1
    # The namespace that is "the host" (embedded: tcl-h-<host>); "" = the agent's own.
    host_namespace: str = ""
    # Start of every namespace the deployment makes (instances: <prefix>i-…).
    namespace_prefix: str = "tcl-"
    # Embedded hosts only: the namespace of the underlay switch this host is wired to
    # (the agent rebuilds its host namespace and cables when they are gone); "" on a
    # real host, whose NICs are hardware.
    underlay_namespace: str = ""
    underlay_cidr: str = ""
    host_number: int = 0  # the host's position in the deployment (its physnet address)

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> AgentConfig:
        if not parser.has_section(SECTION):
            raise ConfigError(f"missing section [{SECTION}]")
        try:
            host = parser.get(SECTION, "host")
            region = parser.get(SECTION, "region_name")
            tunnel_ip = parser.get(SECTION, "tunnel_ip")
            state_dir = Path(parser.get(SECTION, "state_dir"))
        except configparser.NoOptionError as exc:
            raise ConfigError(str(exc)) from exc
        try:
            ipaddress.ip_address(tunnel_ip)
        except ValueError as exc:
            raise ConfigError(f"[{SECTION}] tunnel_ip: {exc}") from exc
        poll = get_float(parser, SECTION, "poll_interval", cls.poll_interval)
        report = get_float(parser, SECTION, "report_interval", cls.report_interval)
        if poll <= 0 or report <= 0:
            raise ConfigError(f"[{SECTION}] poll_interval and report_interval must be > 0")
        return cls(
            host=host,
            region_name=region,
            tunnel_ip=tunnel_ip,
            state_dir=state_dir,
            underlay_device=parser.get(SECTION, "underlay_device", fallback=cls.underlay_device),
            physical_interface_mappings=parse_mappings(
                get_list(parser, SECTION, "physical_interface_mappings")),
            poll_interval=poll,
            report_interval=report,
            metrics_port=get_int(parser, SECTION, "metrics_port", cls.metrics_port),
            host_namespace=parser.get(SECTION, "host_namespace", fallback=""),
            namespace_prefix=parser.get(SECTION, "namespace_prefix",
                                        fallback=cls.namespace_prefix),
            underlay_namespace=parser.get(SECTION, "underlay_namespace", fallback=""),
            underlay_cidr=_cidr(parser.get(SECTION, "underlay_cidr", fallback="")),
            host_number=get_int(parser, SECTION, "host_number", cls.host_number),
        )


def _cidr(text: str) -> str:
    if text:
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise ConfigError(f"[{SECTION}] underlay_cidr: {exc}") from exc
    return text
