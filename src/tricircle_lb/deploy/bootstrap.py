"""What an operator would do by hand after installing, done through the public APIs.

As devstack does with the ``openstack`` CLI, and as the spec asks admins to
do for Octavia, every step looks its object up by name first and creates it
only when missing, so running the bootstrap again changes nothing.

:func:`identity` (as the bootstrap admin, once identity is healthy):
projects ``service`` and ``demo``, users ``tricircle-lb`` (admin on
``service``) and ``demo`` (member on ``demo``), the regions, the services
and their public/internal/admin endpoints.

:func:`networking` (once central and the regions are healthy): Tricircle pods
at central, then per region the amphora management network and subnet (at
central, hinted to the region), the two security groups and the
health-manager port (through the region's own API, bound to its controller).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from tricircle_lb.deploy.services import (
    ADMIN_PROJECT,
    ADMIN_USER,
    DEMO_PROJECT,
    DEMO_USER,
    SERVICE_PROJECT,
    SERVICE_USER,
    Kind,
    Service,
    host_namespace,
    identity_url,
    services,
)
from tricircle_lb.deploy.state import Secrets
from tricircle_lb.deploy.topology import RegionSpec, Topology

LOG = logging.getLogger(__name__)

INTERFACES = ("public", "internal", "admin")
MGMT_SEC_GRP = "lb-mgmt-sec-grp"
HEALTH_MGR_SEC_GRP = "lb-health-mgr-sec-grp"
HEALTH_MGR_DEVICE_OWNER = "Octavia:health-mgr"
HM_INTERFACE = "o-hm0"  # Octavia's name for the controller's end of the management network
HEALTH_MANAGER_UDP_PORT = 5555
AMPHORA_LOG_UDP_PORT = 10514  # [amphora_logs] port: offloaded logs reach the same port
AMPHORA_AGENT_PORT = 9443


class BootstrapError(Exception):
    """An API refused a bootstrap request; retrying will not help."""


class Retryable(BootstrapError):
    """A service is unreachable or answered 5xx; it may be settling."""


@dataclass(frozen=True)
class CatalogEntry:
    service_type: str
    service_name: str
    description: str
    region: str
    url: str


@dataclass(frozen=True)
class Rule:
    protocol: str
    ethertype: str
    port: int | None = None

    @property
    def remote_ip_prefix(self) -> str:
        return "0.0.0.0/0" if self.ethertype == "IPv4" else "::/0"

    def matches(self, rule: dict[str, Any]) -> bool:
        protocol = str(rule.get("protocol") or "")
        icmp6 = {"icmp", "icmpv6", "ipv6-icmp", "58"}
        same_protocol = (protocol == self.protocol
                         or (self.protocol == "ipv6-icmp" and protocol in icmp6))
        return (rule.get("direction") == "ingress" and same_protocol
                and rule.get("ethertype") == self.ethertype
                and rule.get("port_range_min") == self.port
                and rule.get("port_range_max") == self.port)

    def body(self, group_id: str) -> dict[str, Any]:
        return {"security_group_rule": {
            "security_group_id": group_id, "direction": "ingress",
            "ethertype": self.ethertype, "protocol": self.protocol,
            "port_range_min": self.port, "port_range_max": self.port,
            "remote_ip_prefix": self.remote_ip_prefix,
        }}


def _both(protocol: str, port: int | None = None) -> list[Rule]:
    v6 = "ipv6-icmp" if protocol == "icmp" else protocol
    return [Rule(protocol, "IPv4", port), Rule(v6, "IPv6", port)]


SECURITY_GROUPS: dict[str, tuple[str, list[Rule]]] = {
    MGMT_SEC_GRP: ("Amphora management: ping, ssh, HTTP and the amphora agent",
                   [*_both("icmp"), *_both("tcp", 22), *_both("tcp", 80),
                    *_both("tcp", AMPHORA_AGENT_PORT)]),
    HEALTH_MGR_SEC_GRP: ("Octavia health manager: amphora heartbeats and offloaded logs",
                         [*_both("udp", HEALTH_MANAGER_UDP_PORT),
                          *_both("udp", AMPHORA_LOG_UDP_PORT)]),
}


def catalog(topology: Topology, svcs: list[Service]) -> list[CatalogEntry]:
    """Every endpoint the catalog should hold."""
    entries: list[CatalogEntry] = []
    auth_url = identity_url(topology)
    regions = [topology.central.region_name, *topology.region_names]
    for region in regions:
        entries.append(CatalogEntry("identity", "keystone", "Identity", region, auth_url))
    for svc in svcs:
        if svc.kind is Kind.NETWORKING and svc.region is not None:
            entries.append(CatalogEntry("network", "neutron", "Networking", svc.region, svc.url))
        elif svc.kind is Kind.COMPUTE and svc.region is not None:
            entries.append(CatalogEntry("compute", "nova", "Compute", svc.region,
                                        f"{svc.url}/v2.1"))
            entries.append(CatalogEntry("image", "glance", "Image", svc.region,
                                        f"{svc.url}/image"))
        elif svc.kind is Kind.LOADBALANCER and svc.region is not None:
            entries.append(CatalogEntry("load-balancer", "octavia", "Load balancing",
                                        svc.region, svc.url))
        elif svc.kind is Kind.KEY_MANAGER:
            # One Barbican for the deployment, listed in every region: Octavia's
            # users (and Octavia itself) look the key manager up in their region.
            entries += [CatalogEntry("key-manager", "barbican", "Key management", region,
                                     svc.url) for region in regions]
    return entries


def wait_agents(topology: Topology, secrets: Secrets) -> None:
    """Every host's agent is listed alive by its region (Retryable until then)."""
    with admin_client(topology, secrets) as (client, token):
        for svc in services(topology):
            if svc.kind is not Kind.NETWORKING or svc.name == "central":
                continue
            assert svc.region is not None
            agents = Api(client, svc.url, token).call("GET", "/v2.0/agents")["agents"]
            alive = {a["host"] for a in agents if a["alive"]}
            missing = set(topology.region(svc.region).all_hosts) - alive
            if missing:
                raise Retryable(f"agents of {', '.join(sorted(missing))} not alive yet")


class Api:
    """A thin JSON client that turns failures into bootstrap errors."""

    def __init__(self, client: httpx.Client, base: str, token: str) -> None:
        self.client = client
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.base}{path}"
        try:
            resp = self.client.request(method, url, json=body, params=params,
                                       headers={"X-Auth-Token": self.token})
        except httpx.TransportError as exc:
            raise Retryable(f"{method} {url}: {exc}") from exc
        if resp.status_code >= 500:
            raise Retryable(f"{method} {url}: {resp.status_code} {resp.text[:300]}")
        if resp.status_code >= 400:
            raise BootstrapError(f"{method} {url}: {resp.status_code} {resp.text[:500]}")
        if not resp.content:
            return {}
        data = resp.json()
        return data if isinstance(data, dict) else {}

    def find(self, collection: str, path: str, **filters: str) -> dict[str, Any] | None:
        """The one item of ``collection`` matching ``filters`` (checked here too)."""
        items = self.call("GET", path, params=filters).get(collection, [])
        found = [i for i in items if all(str(i.get(k)) == v for k, v in filters.items())]
        return found[0] if found else None


def login(client: httpx.Client, auth_url: str, user: str, password: str,
          project: str) -> str:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }}
    url = f"{auth_url.rstrip('/')}/auth/tokens"
    try:
        resp = client.post(url, json=body)
    except httpx.TransportError as exc:
        raise Retryable(f"identity unreachable: {exc}") from exc
    if resp.status_code >= 500:
        raise Retryable(f"login as {user}: {resp.status_code}")
    if resp.status_code != 201:
        raise BootstrapError(f"login as {user} failed: {resp.status_code} {resp.text[:300]}")
    return resp.headers["X-Subject-Token"]


@contextmanager
def admin_client(topology: Topology, secrets: Secrets) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(timeout=30.0) as client:
        token = login(client, identity_url(topology), ADMIN_USER, secrets.admin_password,
                      ADMIN_PROJECT)
        yield client, token


# -- identity ----------------------------------------------------------------

def identity(topology: Topology, secrets: Secrets, svcs: list[Service] | None = None) -> None:
    svcs = svcs if svcs is not None else services(topology)
    with admin_client(topology, secrets) as (client, token):
        api = Api(client, identity_url(topology), token)
        admin_role = _ensure(api, "roles", "role", name="admin")
        member_role = _ensure(api, "roles", "role", name="member")
        _ensure(api, "roles", "role", name="reader")
        service_project = _ensure(api, "projects", "project", name=SERVICE_PROJECT,
                                  domain_id="default",
                                  extra={"description": "Service users"})
        demo_project = _ensure(api, "projects", "project", name=DEMO_PROJECT,
                               domain_id="default", extra={"description": "Demo project"})
        service_user = _ensure_user(api, SERVICE_USER, secrets.service_password,
                                    service_project["id"])
        demo_user = _ensure_user(api, DEMO_USER, secrets.demo_password, demo_project["id"])
        api.call("PUT", f"/projects/{service_project['id']}/users/{service_user['id']}"
                        f"/roles/{admin_role['id']}")
        api.call("PUT", f"/projects/{demo_project['id']}/users/{demo_user['id']}"
                        f"/roles/{member_role['id']}")

        entries = catalog(topology, svcs)
        have = {r.get("id") for r in api.call("GET", "/regions").get("regions", [])}
        for region in dict.fromkeys(e.region for e in entries):
            if region not in have:
                api.call("POST", "/regions", {"region": {"id": region}})
        service_ids: dict[str, str] = {}
        for e in entries:
            if e.service_type not in service_ids:
                svc = _ensure(api, "services", "service", type=e.service_type,
                              extra={"name": e.service_name, "description": e.description})
                service_ids[e.service_type] = svc["id"]
            for interface in INTERFACES:
                _ensure_endpoint(api, service_ids[e.service_type], e.region, interface, e.url)
        LOG.info("identity bootstrap done")


def _ensure(api: Api, collection: str, member: str, extra: dict[str, str] | None = None,
            **keys: str) -> dict[str, Any]:
    found = api.find(collection, f"/{collection}", **keys)
    if found is not None:
        return found
    LOG.info("creating %s %s", member, keys)
    created = api.call("POST", f"/{collection}", {member: {**keys, **(extra or {})}})
    return dict(created[member])


def _ensure_user(api: Api, name: str, password: str, project_id: str) -> dict[str, Any]:
    found = api.find("users", "/users", name=name, domain_id="default")
    if found is not None:
        return found
    LOG.info("creating user %s", name)
    body = {"user": {"name": name, "password": password, "domain_id": "default",
                     "default_project_id": project_id, "enabled": True}}
    return dict(api.call("POST", "/users", body)["user"])


def _ensure_endpoint(api: Api, service_id: str, region: str, interface: str,
                     url: str) -> None:
    endpoints = api.call("GET", "/endpoints", params={
        "service_id": service_id, "interface": interface, "region_id": region,
    }).get("endpoints", [])
    mine = [e for e in endpoints if e.get("service_id") == service_id
            and e.get("interface") == interface
            and region in (e.get("region_id"), e.get("region"))]
    if any(e.get("url") == url for e in mine):
        return
    for stale in mine:  # the topology moved a port: replace the old endpoint
        api.call("DELETE", f"/endpoints/{stale['id']}")
    api.call("POST", "/endpoints", {"endpoint": {
        "service_id": service_id, "interface": interface, "region_id": region,
        "url": url, "enabled": True}})


# -- networking --------------------------------------------------------------

def networking(topology: Topology, secrets: Secrets) -> None:
    svcs = {s.region: s for s in services(topology) if s.kind is Kind.NETWORKING}
    central_url = svcs[topology.central.region_name].url
    with admin_client(topology, secrets) as (client, token):
        central = Api(client, central_url, token)
        _ensure_pods(central, topology)
        groups = {name: _ensure_security_group(central, name, description, rules)
                  for name, (description, rules) in SECURITY_GROUPS.items()}
        for region in topology.regions:
            local = Api(client, svcs[region.name].url, token)
            _ensure_region_plumbing(central, local, region, groups,
                                    host_namespace(topology, region.controller_host))
        LOG.info("networking bootstrap done")


# Octavia's install guide has operators lift the service project's compute quotas (its
# amphorae are instances); the admin project is the operator's own. Every other project
# keeps Nova's defaults.
UNLIMITED_COMPUTE = {"instances": -1, "cores": -1, "ram": -1}


def compute_quotas(topology: Topology, secrets: Secrets) -> None:
    """Unlimited compute quotas for the service and admin projects, in every region."""
    computes = [s for s in services(topology) if s.kind is Kind.COMPUTE]
    with admin_client(topology, secrets) as (client, token):
        keystone = Api(client, identity_url(topology), token)
        projects = [keystone.find("projects", "/projects", name=name)
                    for name in (SERVICE_PROJECT, ADMIN_PROJECT)]
        for svc in computes:
            nova = Api(client, f"{svc.url}/v2.1", token)
            for project in projects:
                if project is not None:
                    nova.call("PUT", f"/os-quota-sets/{project['id']}",
                              {"quota_set": UNLIMITED_COMPUTE})
    LOG.info("compute quotas of %s and %s lifted", SERVICE_PROJECT, ADMIN_PROJECT)


def _ensure_pods(central: Api, topology: Topology) -> None:
    pods = central.call("GET", "/v1.0/pods").get("pods", [])
    have = {p.get("region_name") for p in pods}
    wanted: list[dict[str, str]] = [{"region_name": topology.central.region_name}]
    wanted += [{"region_name": r.name, "az_name": r.availability_zone}
               for r in topology.regions]
    for pod in wanted:
        if pod["region_name"] not in have:
            LOG.info("registering pod %s", pod)
            central.call("POST", "/v1.0/pods", {"pod": pod})


def _ensure_security_group(central: Api, name: str, description: str,
                           rules: list[Rule]) -> str:
    group = central.find("security_groups", "/v2.0/security-groups", name=name)
    if group is None:
        LOG.info("creating security group %s", name)
        group = central.call("POST", "/v2.0/security-groups", {"security_group": {
            "name": name, "description": description}})["security_group"]
    group_id = str(group["id"])
    existing = central.call("GET", "/v2.0/security-group-rules",
                            params={"security_group_id": group_id}
                            ).get("security_group_rules", [])
    existing = [r for r in existing if r.get("security_group_id") == group_id]
    for rule in rules:
        if not any(rule.matches(r) for r in existing):
            central.call("POST", "/v2.0/security-group-rules", rule.body(group_id))
    return group_id


def _ensure_region_plumbing(central: Api, local: Api, region: RegionSpec,
                            groups: dict[str, str], controller_namespace: str) -> None:
    net = central.find("networks", "/v2.0/networks", name=region.mgmt_net_name)
    if net is None:
        LOG.info("creating %s for %s", region.mgmt_net_name, region.name)
        net = central.call("POST", "/v2.0/networks", {"network": {
            "name": region.mgmt_net_name,
            "availability_zone_hints": [region.name],
            "description": f"Amphora management network of {region.name}",
        }})["network"]
    net_id = str(net["id"])
    subnet = central.find("subnets", "/v2.0/subnets", name=region.mgmt_subnet_name,
                          network_id=net_id)
    if subnet is None:
        central.call("POST", "/v2.0/subnets", {"subnet": {
            "name": region.mgmt_subnet_name,
            "network_id": net_id,
            "cidr": str(region.mgmt_subnet_cidr),
            "ip_version": region.mgmt_subnet_cidr.version,
        }})
    # The health-manager port is created through the region (as Octavia's
    # devstack plugin does), so central allocates its address and the region
    # holds its binding; the controller's agent plugs it into the controller
    # host's namespace as o-hm0, where the load-balancer service listens for
    # heartbeats and reaches amphora agents. Central is asked first: it knows
    # every port.
    binding = {"binding:host_id": region.controller_host,
               "binding:profile": {"netns": controller_namespace, "ifname": HM_INTERFACE}}
    port = central.find("ports", "/v2.0/ports", name=region.health_manager_port_name,
                        network_id=net_id)
    if port is None:
        LOG.info("creating %s", region.health_manager_port_name)
        local.call("POST", "/v2.0/ports", {"port": {
            "name": region.health_manager_port_name,
            "network_id": net_id,
            "device_owner": HEALTH_MGR_DEVICE_OWNER,
            "security_groups": [groups[HEALTH_MGR_SEC_GRP]],
            **binding,
        }})
        return
    mirrored = local.call("GET", f"/v2.0/ports/{port['id']}")["port"]
    profile = mirrored.get("binding:profile") or {}
    if mirrored.get("binding:host_id") != region.controller_host \
            or profile.get("netns") != controller_namespace:
        local.call("PUT", f"/v2.0/ports/{port['id']}", {"port": binding})
