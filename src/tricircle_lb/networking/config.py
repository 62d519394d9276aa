"""``[networking]`` options. docs/configuration.md documents each one."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from typing import Literal

from tricircle_lb.common.config import ConfigError, get_int, get_list

Role = Literal["central", "local"]
NETWORK_TYPES = ("vxlan", "vlan", "flat", "local")


@dataclass(frozen=True)
class VlanRange:
    physical_network: str
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class NetworkingConfig:
    role: Role
    region_name: str
    central_region_name: str = "CentralRegion"
    availability_zone: str = ""
    tenant_network_types: tuple[str, ...] = ("vxlan", "local", "vlan", "flat")
    vni_ranges: tuple[tuple[int, int], ...] = ((1001, 2000),)
    network_vlan_ranges: tuple[VlanRange, ...] = (VlanRange("physnet1", 100, 199),)
    flat_networks: tuple[str, ...] = ("physnet1",)
    global_physnet_mtu: int = 1500
    default_quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))

    @classmethod
    def from_parser(cls, parser: configparser.ConfigParser) -> NetworkingConfig:
        s = "networking"
        if not parser.has_section(s):
            raise ConfigError("missing section [networking]")
        role = parser.get(s, "role", fallback="")
        if role not in ("central", "local"):
            raise ConfigError("[networking] role must be 'central' or 'local'")
        region = parser.get(s, "region_name", fallback="")
        if not region:
            raise ConfigError("[networking] region_name is required")
        types = tuple(get_list(parser, s, "tenant_network_types", "vxlan,local,vlan,flat"))
        for t in types:
            if t not in NETWORK_TYPES:
                raise ConfigError(f"[networking] tenant_network_types: unknown type {t!r}")
        quotas = dict(DEFAULT_QUOTAS)
        for name in DEFAULT_QUOTAS:
            quotas[name] = get_int(parser, "quotas", f"quota_{name}", DEFAULT_QUOTAS[name])
        return cls(
            role=role,  # type: ignore[arg-type]  # checked just above
            region_name=region,
            central_region_name=parser.get(s, "central_region_name",
                                           fallback=cls.central_region_name),
            availability_zone=parser.get(s, "availability_zone", fallback=""),
            tenant_network_types=types,
            vni_ranges=tuple(_parse_vni_ranges(get_list(parser, s, "vni_ranges", "1001:2000"))),
            network_vlan_ranges=tuple(
                _parse_vlan_ranges(get_list(parser, s, "network_vlan_ranges",
                                            "physnet1:100:199"))),
            flat_networks=tuple(get_list(parser, s, "flat_networks", "physnet1")),
            global_physnet_mtu=get_int(parser, s, "global_physnet_mtu", 1500),
            default_quotas=quotas,
        )


DEFAULT_QUOTAS: dict[str, int] = {
    "network": 100, "subnet": 100, "port": 500, "security_group": 10,
    "security_group_rule": 100, "router": 10, "floatingip": 50, "rbac_policy": 10,
    "subnetpool": -1,
}


def _parse_vni_ranges(items: list[str]) -> list[tuple[int, int]]:
    ranges = []
    for item in items:
        try:
            low, high = (int(x) for x in item.split(":"))
        except ValueError as exc:
            raise ConfigError(f"[networking] vni_ranges: bad range {item!r}") from exc
        if not 1 <= low <= high <= 2**24 - 1:
            raise ConfigError(f"[networking] vni_ranges: {item!r} outside 1..16777215")
        ranges.append((low, high))
    return ranges


def _parse_vlan_ranges(items: list[str]) -> list[VlanRange]:
    ranges = []
    for item in items:
        parts = item.split(":")
        if len(parts) == 1:
            ranges.append(VlanRange(parts[0]))
            continue
        try:
            physnet, low, high = parts[0], int(parts[1]), int(parts[2])
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"[networking] network_vlan_ranges: bad range {item!r}") from exc
        if not 1 <= low <= high <= 4094:
            raise ConfigError(f"[networking] network_vlan_ranges: {item!r} outside 1..4094")
        ranges.append(VlanRange(physnet, low, high))
    return ranges
