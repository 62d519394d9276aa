"""``[compute]`` options. docs/configuration.md documents each one."""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from tricircle_lb.common.config import ConfigError, get_float, get_list

SECTION = "compute"


@dataclass(frozen=True)
class ComputeConfig:
    region_name: str
    availability_zone: str = "nova"
    hosts: tuple[str, ...] = ()
    build_timeout: float = 60.0
    sweep_interval: float = 2.0
    max_console_bytes: int = 262_144

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> ComputeConfig:
        if not parser.has_section(SECTION):
            raise ConfigError(f"missing section [{SECTION}]")
        region = parser.get(SECTION, "region_name", fallback="")
        if not region:
            raise ConfigError(f"[{SECTION}] region_name is required")
        hosts = tuple(get_list(parser, SECTION, "hosts"))
        if len(set(hosts)) != len(hosts):
            raise ConfigError(f"[{SECTION}] hosts: a host is listed twice")
        timeout = get_float(parser, SECTION, "build_timeout", cls.build_timeout)
        if timeout <= 0:
            raise ConfigError(f"[{SECTION}] build_timeout must be positive")
        interval = get_float(parser, SECTION, "sweep_interval", cls.sweep_interval)
        if interval <= 0:
            raise ConfigError(f"[{SECTION}] sweep_interval must be positive")
        return cls(
            region_name=region,
            availability_zone=parser.get(SECTION, "availability_zone",
                                         fallback=cls.availability_zone) or cls.availability_zone,
            hosts=hosts,
            build_timeout=timeout,
            sweep_interval=interval,
        )
