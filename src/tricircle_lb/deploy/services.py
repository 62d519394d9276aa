"""The services of a deployment and the configuration file each one reads.

A topology becomes an ordered list of :class:`Service` (identity, the key
manager, central, then one local networking service per region). :func:`write_configs` renders
each service's INI file into ``<state>/etc/``; the options are exactly those
the services parse (docs/configuration.md).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tricircle_lb.dataplane.underlay import UnderlaySpec
from tricircle_lb.deploy.key_manager import write_barbican_config
from tricircle_lb.deploy.state import Secrets, StatePaths, write_private
from tricircle_lb.deploy.topology import Topology

SERVICE_USER = "tricircle-lb"
SERVICE_PROJECT = "service"
DEMO_PROJECT = "demo"
DEMO_USER = "demo"
ADMIN_USER = "admin"
ADMIN_PROJECT = "admin"

JOBS_DEFAULTS = {
    "poll_interval": "0.5",
    "lease_time": "30",
    "max_attempts": "30",
    "backoff_base": "0.5",
    "backoff_max": "10",
}


class Kind(StrEnum):
    IDENTITY = "identity"
    NETWORKING = "networking"
    COMPUTE = "compute"
    LOADBALANCER = "loadbalancer"
    AGENT = "agent"
    KEY_MANAGER = "key-manager"  # OpenStack Barbican itself (deploy/key_manager.py)


@dataclass(frozen=True)
class Service:
    """One process of the deployment."""

    name: str             # identity, central, region-RegionOne …
    kind: Kind
    region: str | None    # the region whose API this is (None: identity, key manager)
    host: str
    port: int
    config_file: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/healthcheck"

    @property
    def has_api(self) -> bool:
        """Agents have no API: they are ready once their region lists them alive."""
        return self.kind is not Kind.AGENT

    @property
    def label(self) -> str:
        if self.kind is Kind.IDENTITY:
            return "identity"
        if self.kind is Kind.KEY_MANAGER:
            return "key manager (Barbican)"
        if self.kind is Kind.COMPUTE:
            return f"compute and image ({self.region})"
        if self.kind is Kind.LOADBALANCER:
            return f"load balancing ({self.region})"
        if self.kind is Kind.AGENT:
            return f"host agent {self.name.removeprefix('agent-')} ({self.region})"
        role = "central networking" if self.name == "central" else "local networking"
        return f"{role} ({self.region})"


KEY_MANAGER_SERVICE = "key-manager"


def region_service_name(region: str) -> str:
    return f"region-{region}"


def compute_service_name(region: str) -> str:
    return f"compute-{region}"


def loadbalancer_service_name(region: str) -> str:
    return f"loadbalancer-{region}"


def host_namespace(topology: Topology, host: str) -> str:
    """The namespace of an embedded host (its agent's bridges, the controller's o-hm0)."""
    return f"{topology.prefix}h-{host}"


def agent_service_name(host: str) -> str:
    return f"agent-{host}"


def underlay_spec(topology: Topology) -> UnderlaySpec:
    """The embedded underlay: every host of every region, VTEPs in file order."""
    return UnderlaySpec.plan(topology.hosts, cidr=topology.underlay_cidr,
                             physical_networks=topology.central.physical_networks,
                             namespace=f"{topology.prefix}underlay",
                             host_prefix=host_namespace(topology, ""))


def namespace_kinds(topology: Topology) -> tuple[str, ...]:
    """Name prefixes of every namespace the deployment makes: underlay, hosts,
    instances and amphorae, probes."""
    p = topology.prefix
    return (f"{p}underlay", f"{p}h-", f"{p}i-", f"{p}p-")


def services(topology: Topology) -> list[Service]:
    """Every service, in start order: identity, key manager, central, then the regions."""
    paths = StatePaths(topology.state_dir)
    host = topology.bind_host
    result = [
        Service("identity", Kind.IDENTITY, None, host, topology.identity.port,
                paths.config_file("identity")),
        Service(KEY_MANAGER_SERVICE, Kind.KEY_MANAGER, None, host, topology.key_manager.port,
                paths.config_file(KEY_MANAGER_SERVICE)),
        Service("central", Kind.NETWORKING, topology.central.region_name, host,
                topology.central.port, paths.config_file("central")),
    ]
    for region in topology.regions:
        name = region_service_name(region.name)
        result.append(Service(name, Kind.NETWORKING, region.name, host, region.network_port,
                              paths.config_file(name)))
    for region in topology.regions:
        name = compute_service_name(region.name)
        result.append(Service(name, Kind.COMPUTE, region.name, host, region.compute_port,
                              paths.config_file(name)))
    for region in topology.regions:
        for node in region.all_hosts:
            name = agent_service_name(node)
            result.append(Service(name, Kind.AGENT, region.name, host, 0,
                                  paths.config_file(name)))
    for region in topology.regions:
        name = loadbalancer_service_name(region.name)
        result.append(Service(name, Kind.LOADBALANCER, region.name, host,
                              region.loadbalancer_port, paths.config_file(name)))
    return result


def key_manager_url(topology: Topology) -> str:
    """Barbican's root URL (clients add ``/v1``), as the catalog lists it."""
    return next(s.url for s in services(topology) if s.kind is Kind.KEY_MANAGER)


def identity_url(topology: Topology) -> str:
    """The ``auth_url`` clients and services use (Keystone v3)."""
    return f"{services(topology)[0].url}/v3"


def write_configs(topology: Topology, secrets: Secrets, log_level: str = "INFO") -> None:
    """Render every service's configuration file into ``<state>/etc/`` (0600)."""
    paths = StatePaths(topology.state_dir)
    for service in services(topology):
        parser = configparser.ConfigParser(interpolation=None)
        parser["DEFAULT"] = {
            "bind_host": service.host,
            "port": str(service.port),
            "database_url": paths.database_url(service.name),
            "log_file": str(paths.log_file(service.name)),
            "log_level": log_level,
        }
        if service.kind is Kind.IDENTITY:
            parser["identity"] = {
                "token_expiration": str(topology.identity.token_expiration),
                "bootstrap_admin_password": secrets.admin_password,
            }
        elif service.kind is Kind.NETWORKING:
            _networking_sections(parser, topology, secrets, service)
        elif service.kind is Kind.COMPUTE:
            _compute_sections(parser, topology, secrets, service)
        elif service.kind is Kind.LOADBALANCER:
            _loadbalancer_sections(parser, topology, secrets, service)
        elif service.kind is Kind.KEY_MANAGER:
            write_barbican_config(parser, topology, secrets, service,
                                  identity_url(topology), SERVICE_USER, SERVICE_PROJECT)
        else:
            _agent_sections(parser, topology, secrets, service)
        write_private(service.config_file, parser,
                      header=f"# Generated by `tricircle-lb up` from {paths.topology}; "
                             "edits are overwritten.\n")


def _compute_sections(parser: configparser.ConfigParser, topology: Topology,
                      secrets: Secrets, service: Service) -> None:
    assert service.region is not None
    region = topology.region(service.region)
    _auth_section(parser, topology, secrets)
    parser["compute"] = {
        "region_name": region.name,
        "availability_zone": region.availability_zone,
        "hosts": ",".join(region.hosts),
        "build_timeout": "60",
    }


def _loadbalancer_sections(parser: configparser.ConfigParser, topology: Topology,
                           secrets: Secrets, service: Service) -> None:
    assert service.region is not None
    region = topology.region(service.region)
    _auth_section(parser, topology, secrets)
    parser["loadbalancer"] = {
        "region_name": region.name,
        "central_region_name": topology.central.region_name,
        "availability_zone": region.availability_zone,
        "mgmt_network_name": region.mgmt_net_name,
        "controller_host": region.controller_host,
        "controller_namespace": host_namespace(topology, region.controller_host),
        "health_manager_port_name": region.health_manager_port_name,
        "reserved_member_cidrs": ",".join(str(r.mgmt_subnet_cidr)
                                          for r in topology.regions),
    }
    parser["health_manager"] = {"heartbeat_key": secrets.heartbeat_key}
    # Where tenants' TLS certificates are read (loadbalancer/certificates.py).
    parser["certificates"] = {"endpoint": key_manager_url(topology),
                              "region_name": region.name}
    # A flow cut by kill -9 resumes once its lease runs out: keep that short.
    parser["jobs"] = dict(JOBS_DEFAULTS, lease_time="10",
                          max_attempts=str(topology.loadbalancer.job_max_attempts),
                          backoff_max=str(topology.loadbalancer.job_backoff_max))


def _agent_sections(parser: configparser.ConfigParser, topology: Topology,
                    secrets: Secrets, service: Service) -> None:
    assert service.region is not None
    node = service.name.removeprefix("agent-")
    spec = underlay_spec(topology)
    for key in ("bind_host", "port", "database_url"):
        parser.remove_option("DEFAULT", key)
    _auth_section(parser, topology, secrets)
    parser["agent"] = {
        "host": node,
        "region_name": service.region,
        "tunnel_ip": spec.host(node).tunnel_ip,
        "host_namespace": spec.host(node).namespace,
        "underlay_device": "ul0",
        "physical_interface_mappings": ",".join(
            f"{p}:{d}" for p, d in spec.interface_mappings().items()),
        "poll_interval": "1.0",
        "state_dir": str(topology.state_dir),
        "namespace_prefix": topology.prefix,
        "metrics_port": "0",
        "underlay_namespace": spec.namespace,
        "underlay_cidr": spec.cidr,
        "host_number": str(spec.host(node).number),
    }


def _auth_section(parser: configparser.ConfigParser, topology: Topology,
                  secrets: Secrets) -> None:
    parser["keystone_authtoken"] = {
        "auth_url": identity_url(topology),
        "username": SERVICE_USER,
        "password": secrets.service_password,
        "project_name": SERVICE_PROJECT,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "token_cache_time": "10",
    }


def _networking_sections(parser: configparser.ConfigParser, topology: Topology,
                         secrets: Secrets, service: Service) -> None:
    _auth_section(parser, topology, secrets)
    central = topology.central
    assert service.region is not None
    networking = {
        "role": "central" if service.name == "central" else "local",
        "region_name": service.region,
        "central_region_name": central.region_name,
    }
    if service.name != "central":
        networking["availability_zone"] = topology.region(service.region).availability_zone
    networking.update({
        "tenant_network_types": ",".join(central.tenant_network_types),
        "vni_ranges": ",".join(central.vni_ranges),
        "network_vlan_ranges": ",".join(central.network_vlan_ranges),
        "flat_networks": ",".join(central.flat_networks),
    })
    parser["networking"] = networking
    parser["jobs"] = dict(JOBS_DEFAULTS)
