"""The deployment topology: which services run, on which ports, in which regions.

One INI file with oslo.config-style sections (``deploy/default-topology.ini``
is the packaged default; docs/configuration.md documents every option)::

    [DEFAULT]      state_dir, bind_host
    [identity]     port, token_expiration
    [central]      region_name, port, tenant_network_types, vni_ranges,
                   network_vlan_ranges, flat_networks
    [underlay]     cidr, prefix             (VTEP addresses and namespace names of the
                                             embedded hosts)
    [region:NAME]  availability_zone, network_port, compute_port, loadbalancer_port,
                   mgmt_subnet_cidr, controller_host, hosts
                                            (one stanza per region, in order)
    [loadbalancer] job_max_attempts, job_backoff_max
                                            (how long every region's controller retries
                                             a flow before its load balancer is ERROR)
    [key_manager]  port                     (Barbican, one for the whole deployment)

:func:`load` parses and validates the whole file and raises
:class:`TopologyError` naming the section and option of the first bad value,
so a typo fails at ``up`` instead of as a half-started deployment.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/tricircle-lb")
CONFIG_ENV = "TRICIRCLE_LB_CONFIG"
STATE_DIR_ENV = "TRICIRCLE_LB_STATE_DIR"
NETWORK_TYPES = ("vxlan", "vlan", "flat", "local")
REGION_PREFIX = "region:"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_PREFIX = re.compile(r"^tcl-(?:[a-z0-9]{1,8}-)?$")
# What follows a deployment's prefix in its namespace names (services.namespace_kinds):
# ``tcl-h-`` as a prefix of its own would be the hosts of the default deployment.
_RESERVED_LABELS = frozenset({"h", "i", "p", "underlay"})
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$")

_ALLOWED: dict[str, frozenset[str]] = {
    "DEFAULT": frozenset({"state_dir", "bind_host"}),
    "identity": frozenset({"port", "token_expiration"}),
    "central": frozenset({"region_name", "port", "tenant_network_types", "vni_ranges",
                          "network_vlan_ranges", "flat_networks"}),
    "region": frozenset({"availability_zone", "network_port", "compute_port",
                         "loadbalancer_port",
                         "mgmt_subnet_cidr", "controller_host", "hosts"}),
    "underlay": frozenset({"cidr", "prefix"}),
    "loadbalancer": frozenset({"job_max_attempts", "job_backoff_max"}),
    "key_manager": frozenset({"port"}),
}


class TopologyError(Exception):
    """The topology file is missing, unreadable or holds a bad value."""


@dataclass(frozen=True)
class IdentitySpec:
    port: int = 5000
    token_expiration: int = 3600


@dataclass(frozen=True)
class KeyManagerSpec:
    """``[key_manager]``: the deployment's one Barbican (Barbican's own port)."""

    port: int = 9311


@dataclass(frozen=True)
class CentralSpec:
    region_name: str = "CentralRegion"
    port: int = 9696
    tenant_network_types: tuple[str, ...] = ("vxlan", "local", "vlan", "flat")
    vni_ranges: tuple[str, ...] = ("1001:2000",)
    network_vlan_ranges: tuple[str, ...] = ("physnet1:100:199",)
    flat_networks: tuple[str, ...] = ("physnet2",)

    @property
    def physical_networks(self) -> tuple[str, ...]:
        """Every physical network a host must be wired to (VLAN ranges and flat)."""
        names = {item.partition(":")[0] for item in self.network_vlan_ranges}
        names |= {p for p in self.flat_networks if p != "*"}
        return tuple(sorted(names))


@dataclass(frozen=True)
class LoadBalancerSpec:
    """``[loadbalancer]``: the controllers' retries (their ``[jobs]`` section): a flow
    that keeps failing is given up, and its load balancer made ERROR, after
    ``job_max_attempts`` attempts with at most ``job_backoff_max`` seconds between two."""

    job_max_attempts: int = 30
    job_backoff_max: int = 10


@dataclass(frozen=True)
class RegionSpec:
    """One ``[region:NAME]`` stanza. ``index`` counts from 1 in file order."""

    name: str
    index: int
    availability_zone: str
    network_port: int
    mgmt_subnet_cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    controller_host: str
    compute_port: int = 0
    loadbalancer_port: int = 0
    hosts: tuple[str, ...] = ()  # where instances and amphorae run

    @property
    def all_hosts(self) -> tuple[str, ...]:
        """Every host of the region with an agent: the controller, then the others."""
        return tuple(dict.fromkeys((self.controller_host, *self.hosts)))

    @property
    def mgmt_net_name(self) -> str:
        return f"lb-mgmt-net{self.index}"

    @property
    def mgmt_subnet_name(self) -> str:
        return f"lb-mgmt-subnet{self.index}"

    @property
    def health_manager_port_name(self) -> str:
        return f"octavia-health-manager-{self.name}-listen-port"


@dataclass(frozen=True)
class Topology:
    state_dir: Path
    bind_host: str
    identity: IdentitySpec
    central: CentralSpec
    regions: tuple[RegionSpec, ...]
    underlay_cidr: str = "198.18.0.0/15"
    # Every namespace this deployment makes starts with this (``tcl-h-…``,
    # ``tcl-i-…``), so two deployments on one machine never touch each other's.
    prefix: str = "tcl-"
    loadbalancer: LoadBalancerSpec = LoadBalancerSpec()
    key_manager: KeyManagerSpec = KeyManagerSpec()

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host of every region, in file order (their VTEPs follow that order)."""
        return tuple(h for region in self.regions for h in region.all_hosts)

    def region_of_host(self, host: str) -> RegionSpec:
        for region in self.regions:
            if host in region.all_hosts:
                return region
        raise TopologyError(f"unknown host {host!r}")

    def region(self, name: str) -> RegionSpec:
        for region in self.regions:
            if region.name == name:
                return region
        known = ", ".join(r.name for r in self.regions)
        raise TopologyError(f"unknown region {name!r} (known: {known})")

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)


def default_topology_text() -> str:
    return (resources.files("tricircle_lb.deploy") / "default-topology.ini").read_text()


def config_source(config: Path | None) -> Path | None:
    """The topology file to use: ``config``, else ``$TRICIRCLE_LB_CONFIG``, else the default."""
    if config is not None:
        return config
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else None


def load(config: Path | None = None, state_dir: Path | None = None) -> Topology:
    """Parse the topology file (``None``: the packaged default) and validate it.

    ``state_dir`` (from ``--state-dir`` or the environment) overrides the
    file's ``state_dir``.
    """
    if config is None:
        text, where = default_topology_text(), "<default topology>"
    else:
        try:
            text, where = config.read_text(), str(config)
        except OSError as exc:
            raise TopologyError(f"cannot read topology file {config}: {exc.strerror}") from exc
    return parse(text, where, state_dir)


def parse(text: str, where: str = "<topology>", state_dir: Path | None = None) -> Topology:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text, source=where)
    except configparser.Error as exc:
        raise TopologyError(f"{where}: {exc.message}") from exc
    try:
        return _build(parser, state_dir)
    except TopologyError as exc:
        raise TopologyError(f"{where}: {exc}") from exc


def _build(parser: configparser.ConfigParser, state_dir: Path | None) -> Topology:
    defaults = set(parser.defaults())
    _check_options(parser, "DEFAULT", defaults, _ALLOWED["DEFAULT"])
    for section in parser.sections():
        kind = "region" if section.startswith(REGION_PREFIX) else section
        if kind not in _ALLOWED or kind == "DEFAULT":
            raise TopologyError(f"unknown section [{section}]")
        own = set(parser.options(section)) - defaults
        _check_options(parser, section, own, _ALLOWED[kind])

    bind_host = _get(parser, "DEFAULT", "bind_host", "127.0.0.1")
    try:
        ipaddress.ip_address(bind_host)
    except ValueError as exc:
        raise TopologyError(f"[DEFAULT] bind_host: {bind_host!r} is not an IP address") from exc
    if state_dir is None:
        state_dir = Path(_get(parser, "DEFAULT", "state_dir", str(DEFAULT_STATE_DIR)))
    if not state_dir.is_absolute():
        state_dir = state_dir.absolute()

    identity = IdentitySpec(
        port=_port(parser, "identity", "port", IdentitySpec.port),
        token_expiration=_int(parser, "identity", "token_expiration",
                              IdentitySpec.token_expiration, minimum=60),
    )
    central = _central(parser)
    regions = tuple(
        _region(parser, section, index)
        for index, section in enumerate(
            (s for s in parser.sections() if s.startswith(REGION_PREFIX)), start=1)
    )
    if not regions:
        raise TopologyError("at least one [region:NAME] section is required")
    key_manager = KeyManagerSpec(
        port=_port(parser, "key_manager", "port", KeyManagerSpec.port))
    _check_unique(identity, central, regions, key_manager)
    cidr = _get(parser, "underlay", "cidr", "198.18.0.0/15")
    try:
        underlay = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise TopologyError(f"[underlay] cidr: {exc}") from exc
    prefix = _get(parser, "underlay", "prefix", "tcl-")
    if not _PREFIX.match(prefix):
        raise TopologyError(f"[underlay] prefix: {prefix!r} must be 'tcl-' followed by at "
                            "most 8 lowercase letters or digits and a '-'")
    if prefix.removeprefix("tcl-").rstrip("-") in _RESERVED_LABELS:
        raise TopologyError(f"[underlay] prefix: {prefix!r} would name the namespaces of "
                            "the deployment with prefix 'tcl-' (h, i, p and underlay are "
                            "taken)")
    hosts = [h for r in regions for h in r.all_hosts]
    if len(set(hosts)) != len(hosts):
        raise TopologyError("a host name is used in two regions")
    if underlay.num_addresses - 2 < len(hosts):
        raise TopologyError(f"[underlay] cidr: {cidr} is too small for {len(hosts)} hosts")
    loadbalancer = LoadBalancerSpec(
        job_max_attempts=_int(parser, "loadbalancer", "job_max_attempts",
                              LoadBalancerSpec.job_max_attempts, maximum=1000),
        job_backoff_max=_int(parser, "loadbalancer", "job_backoff_max",
                             LoadBalancerSpec.job_backoff_max, maximum=3600))
    return Topology(state_dir=state_dir, bind_host=bind_host, identity=identity,
                    central=central, regions=regions, underlay_cidr=str(underlay),
                    prefix=prefix, loadbalancer=loadbalancer, key_manager=key_manager)


def _central(parser: configparser.ConfigParser) -> CentralSpec:
    s = "central"
    region_name = _get(parser, s, "region_name", CentralSpec.region_name)
    _check_name(s, "region_name", region_name)
    types = _list(parser, s, "tenant_network_types", CentralSpec.tenant_network_types)
    if not types:
        raise TopologyError("[central] tenant_network_types: at least one type is required")
    for t in types:
        if t not in NETWORK_TYPES:
            raise TopologyError(f"[central] tenant_network_types: unknown type {t!r} "
                                f"(one of {', '.join(NETWORK_TYPES)})")
    if len(set(types)) != len(types):
        raise TopologyError("[central] tenant_network_types: a type is listed twice")
    vni = _list(parser, s, "vni_ranges", CentralSpec.vni_ranges)
    for item in vni:
        low, high = _range(s, "vni_ranges", item)
        if not 1 <= low <= high <= 2**24 - 1:
            raise TopologyError(f"[central] vni_ranges: {item!r} is not within 1..16777215")
    vlans = _list(parser, s, "network_vlan_ranges", CentralSpec.network_vlan_ranges)
    for item in vlans:
        physnet, _, rest = item.partition(":")
        _check_name(s, "network_vlan_ranges", physnet)
        if rest:
            low, high = _range(s, "network_vlan_ranges", rest)
            if not 1 <= low <= high <= 4094:
                raise TopologyError(
                    f"[central] network_vlan_ranges: {item!r} is not within 1..4094")
    flats = _list(parser, s, "flat_networks", CentralSpec.flat_networks)
    for physnet in flats:
        if physnet != "*":
            _check_name(s, "flat_networks", physnet)
    return CentralSpec(
        region_name=region_name,
        port=_port(parser, s, "port", CentralSpec.port),
        tenant_network_types=types,
        vni_ranges=vni,
        network_vlan_ranges=vlans,
        flat_networks=flats,
    )


def _region(parser: configparser.ConfigParser, section: str, index: int) -> RegionSpec:
    name = section[len(REGION_PREFIX):]
    if not _NAME.match(name):
        raise TopologyError(f"[{section}]: region name {name!r} must start with a letter "
                            "and hold only letters, digits, '-' and '_'")
    for option in ("availability_zone", "network_port", "mgmt_subnet_cidr"):
        if not parser.has_option(section, option):
            raise TopologyError(f"[{section}] {option} is required")
    az = _get(parser, section, "availability_zone", "")
    _check_name(section, "availability_zone", az)
    raw_cidr = _get(parser, section, "mgmt_subnet_cidr", "")
    try:
        cidr = ipaddress.ip_network(raw_cidr, strict=True)
    except ValueError as exc:
        raise TopologyError(f"[{section}] mgmt_subnet_cidr: {exc}") from exc
    if cidr.num_addresses < 8:
        raise TopologyError(f"[{section}] mgmt_subnet_cidr: {cidr} is too small")
    host = _get(parser, section, "controller_host", f"{name}-controller")
    if not _HOST.match(host):
        raise TopologyError(f"[{section}] controller_host: {host!r} is not a host name")
    hosts = _list(parser, section, "hosts", (f"{name}-host1", f"{name}-host2"))
    if not hosts:
        raise TopologyError(f"[{section}] hosts: at least one host is required")
    for h in hosts:
        if not _HOST.match(h):
            raise TopologyError(f"[{section}] hosts: {h!r} is not a host name")
    if len(set(hosts)) != len(hosts):
        raise TopologyError(f"[{section}] hosts: a host is listed twice")
    return RegionSpec(
        name=name,
        index=index,
        availability_zone=az,
        network_port=_port(parser, section, "network_port", 0),
        mgmt_subnet_cidr=cidr,
        controller_host=host,
        # Nova's port for the first region, the next ones after it.
        compute_port=_port(parser, section, "compute_port", 8773 + index),
        # Octavia's port for the first region, the next ones after it.
        loadbalancer_port=_port(parser, section, "loadbalancer_port", 9875 + index),
        hosts=hosts,
    )


def _check_unique(identity: IdentitySpec, central: CentralSpec,
                  regions: tuple[RegionSpec, ...], key_manager: KeyManagerSpec) -> None:
    ports: dict[int, str] = {identity.port: "[identity] port"}

    def claim(port: int, what: str) -> None:
        if port in ports:
            raise TopologyError(f"{what} = {port} is already used by {ports[port]}")
        ports[port] = what

    claim(central.port, "[central] port")
    claim(key_manager.port, "[key_manager] port")
    names = {central.region_name: "[central] region_name"}
    azs: dict[str, str] = {}
    for region in regions:
        section = f"[{REGION_PREFIX}{region.name}]"
        claim(region.network_port, f"{section} network_port")
        claim(region.compute_port, f"{section} compute_port")
        claim(region.loadbalancer_port, f"{section} loadbalancer_port")
        if region.name in names:
            raise TopologyError(f"{section}: region name {region.name!r} is already used by "
                                f"{names[region.name]}")
        names[region.name] = section
        if region.availability_zone in azs:
            # Tricircle pods: each region belongs to its own availability zone here,
            # so an AZ hint names exactly one region.
            raise TopologyError(f"{section} availability_zone = {region.availability_zone} "
                                f"is already used by {azs[region.availability_zone]}")
        if region.availability_zone in names:
            raise TopologyError(f"{section} availability_zone must differ from region names")
        azs[region.availability_zone] = section
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            if a.mgmt_subnet_cidr.overlaps(b.mgmt_subnet_cidr):
                raise TopologyError(
                    f"[{REGION_PREFIX}{b.name}] mgmt_subnet_cidr {b.mgmt_subnet_cidr} overlaps "
                    f"[{REGION_PREFIX}{a.name}] mgmt_subnet_cidr {a.mgmt_subnet_cidr}")


def _check_options(parser: configparser.ConfigParser, section: str, options: set[str],
                   allowed: frozenset[str]) -> None:
    unknown = sorted(options - allowed)
    if unknown:
        raise TopologyError(f"[{section}] unknown option {unknown[0]!r} "
                            f"(known: {', '.join(sorted(allowed))})")
    for option in options:
        if not parser.get(section, option).strip():
            raise TopologyError(f"[{section}] {option} is empty")


def _get(parser: configparser.ConfigParser, section: str, option: str, fallback: str) -> str:
    if section != "DEFAULT" and not parser.has_section(section):
        return fallback
    return parser.get(section, option, fallback=fallback).strip()


def _int(parser: configparser.ConfigParser, section: str, option: str, fallback: int,
         minimum: int = 1, maximum: int | None = None) -> int:
    raw = _get(parser, section, option, str(fallback))
    try:
        value = int(raw)
    except ValueError as exc:
        raise TopologyError(f"[{section}] {option}: {raw!r} is not an integer") from exc
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
        raise TopologyError(f"[{section}] {option}: {value} is not {bound}")
    return value


def _port(parser: configparser.ConfigParser, section: str, option: str, fallback: int) -> int:
    return _int(parser, section, option, fallback, minimum=1, maximum=65535)


def _list(parser: configparser.ConfigParser, section: str, option: str,
          fallback: tuple[str, ...]) -> tuple[str, ...]:
    raw = _get(parser, section, option, ",".join(fallback))
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _range(section: str, option: str, item: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in item.split(":"))
    except ValueError as exc:
        raise TopologyError(f"[{section}] {option}: bad range {item!r} "
                            "(expected MIN:MAX)") from exc
    return low, high


def _check_name(section: str, option: str, value: str) -> None:
    if not _NAME.match(value):
        raise TopologyError(f"[{section}] {option}: {value!r} must start with a letter and "
                            "hold only letters, digits, '-' and '_'")
