"""The resources of Neutron's LBaaS v2 extension, as neutron-lbaas defined their attributes.

Each :class:`Kind` names a resource as both APIs name it (Neutron and Octavia
use the same body keys and collection names) and lists which attributes a
Neutron client sees, may send on create, and may send on update. Octavia's
objects carry more (timestamps, tags, timeouts …); a client of this extension
sees neutron-lbaas's view of the same object.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every resource shows its owner under both names (neutron-lbaas kept tenant_id).
OWNER = ("tenant_id", "project_id")


@dataclass(frozen=True)
class Kind:
    member: str
    collection: str
    visible: tuple[str, ...]
    on_create: frozenset[str]
    on_update: frozenset[str]
    # Only a load balancer chooses its owner; Octavia gives children the owner of
    # their load balancer, so a child's tenant_id is accepted and left to it.
    owner_on_create: bool = False


def _kind(member: str, collection: str, visible: str, update: str, create_only: str = "",
          owner_on_create: bool = False) -> Kind:
    updatable = frozenset(update.split())
    return Kind(member, collection, tuple(visible.split()) + OWNER,
                updatable | frozenset(create_only.split()) | frozenset(OWNER),
                updatable, owner_on_create)


LOADBALANCER = _kind(
    "loadbalancer", "loadbalancers",
    "id name description vip_subnet_id vip_address vip_port_id provider listeners pools "
    "admin_state_up provisioning_status operating_status flavor_id",
    update="name description admin_state_up",
    create_only="vip_subnet_id vip_network_id vip_address provider flavor_id",
    owner_on_create=True)

LISTENER = _kind(
    "listener", "listeners",
    "id name description loadbalancers default_pool_id default_tls_container_ref "
    "sni_container_refs connection_limit protocol protocol_port admin_state_up l7policies",
    update="name description default_pool_id default_tls_container_ref sni_container_refs "
           "connection_limit admin_state_up",
    create_only="loadbalancer_id protocol protocol_port")

POOL = _kind(
    "pool", "pools",
    "id name description listeners loadbalancers healthmonitor_id protocol lb_algorithm "
    "session_persistence members admin_state_up",
    update="name description lb_algorithm session_persistence admin_state_up",
    create_only="listener_id loadbalancer_id protocol")

MEMBER = _kind(
    "member", "members",
    "id address protocol_port weight admin_state_up subnet_id name",
    update="weight admin_state_up name",
    create_only="address protocol_port subnet_id")

HEALTHMONITOR = _kind(
    "healthmonitor", "healthmonitors",
    "id name type delay timeout max_retries max_retries_down http_method url_path "
    "expected_codes admin_state_up pools",
    update="name delay timeout max_retries max_retries_down http_method url_path "
           "expected_codes admin_state_up",
    create_only="pool_id type")

L7POLICY = _kind(
    "l7policy", "l7policies",
    "id name description listener_id action redirect_pool_id redirect_url position rules "
    "admin_state_up",
    update="name description action redirect_pool_id redirect_url position admin_state_up",
    create_only="listener_id")

L7RULE = _kind(
    "rule", "rules",
    "id type compare_type invert key value admin_state_up",
    update="type compare_type invert key value admin_state_up")

# neutron-lbaas's session persistence has a type and a cookie name, nothing more.
PERSISTENCE_KEYS = ("type", "cookie_name")
