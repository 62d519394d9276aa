"""A load balancer's rows → the amphora's desired state (:mod:`..amphora.model`).

What is pending deletion, and listeners an admin turned off, are left out:
the configuration is what the amphora should serve once the flow finishes.
Pools reach HAProxy only through a listener (its default pool or an L7
redirect); members keep their own ``admin_state_up`` (HAProxy ``disabled``).
Certificates and secrets the TLS fields name are loaded through a
:class:`~.amphora_tls.CertificateSource` and travel with the configuration
(:mod:`.amphora_tls`, decision 085).
"""

from __future__ import annotations

from tricircle_lb.loadbalancer.amphora import model
from tricircle_lb.loadbalancer.controller.amphora_tls import (
    CertificateSource,
    Collector,
    listener_tls,
    pool_tls,
)
from tricircle_lb.loadbalancer.models import (
    HealthMonitor,
    L7Policy,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    ProvisioningStatus,
)

_GONE = (ProvisioningStatus.PENDING_DELETE.value, ProvisioningStatus.DELETED.value)


def _live(status: str) -> bool:
    return status not in _GONE


def build(lb: LoadBalancer, certificates: CertificateSource | None = None) -> (
        model.LoadBalancerConfig):
    """The configuration of ``lb`` (its relationships loaded or loadable).

    ``certificates`` loads what TLS listeners and pools name; without it every
    reference is sent as "keep the amphora's copy" (decision 085)."""
    collect = Collector(certificates, lb.id)
    pools = tuple(_pool(p, collect) for p in lb.pools if _live(p.provisioning_status))
    live_pools = {p.id for p in pools}
    listeners = tuple(_listener(li, live_pools, collect) for li in lb.listeners
                      if _live(li.provisioning_status) and li.admin_state_up)
    return model.LoadBalancerConfig(id=lb.id, vip_address=str(lb.vip_address),
                                    listeners=listeners, pools=pools,
                                    certificates=tuple(collect.files.values()),
                                    project_id=lb.project_id)


def member_subnets(lb: LoadBalancer) -> set[str]:
    """Subnets of the members the amphora must reach (so their networks get plugged)."""
    return {m.subnet_id for p in lb.pools if _live(p.provisioning_status)
            for m in p.members if _live(m.provisioning_status) and m.subnet_id}


def _listener(li: Listener, live_pools: set[str], collect: Collector) -> model.Listener:
    default = li.default_pool_id if li.default_pool_id in live_pools else None
    return model.Listener(
        id=li.id, protocol=li.protocol,  # type: ignore[arg-type]  # validated by the API
        protocol_port=li.protocol_port, default_pool_id=default,
        connection_limit=li.connection_limit,
        timeout_client_data=li.timeout_client_data,
        timeout_member_connect=li.timeout_member_connect,
        timeout_member_data=li.timeout_member_data,
        timeout_tcp_inspect=li.timeout_tcp_inspect,
        insert_headers=dict(li.insert_headers or {}),
        allowed_cidrs=tuple(li.allowed_cidrs or ()),
        l7policies=tuple(_policy(p, live_pools) for p in li.l7policies
                         if _live(p.provisioning_status) and p.admin_state_up
                         and (p.action != "REDIRECT_TO_POOL" or p.redirect_pool_id in live_pools)),
        tls=listener_tls(li, collect),
    )


def _policy(p: L7Policy, live_pools: set[str]) -> model.L7Policy:
    return model.L7Policy(
        id=p.id, action=p.action,  # type: ignore[arg-type]  # validated by the API
        position=p.position,
        rules=tuple(model.L7Rule(id=r.id, type=r.type,  # type: ignore[arg-type]
                                 compare_type=r.compare_type,  # type: ignore[arg-type]
                                 value=r.value, key=r.key, invert=r.invert)
                    for r in p.rules if _live(r.provisioning_status) and r.admin_state_up),
        redirect_url=p.redirect_url, redirect_prefix=p.redirect_prefix,
        redirect_http_code=p.redirect_http_code or 302,
        redirect_pool_id=p.redirect_pool_id if p.redirect_pool_id in live_pools else None,
    )


def _pool(p: Pool, collect: Collector) -> model.Pool:
    persistence = None
    if p.session_persistence:
        persistence = model.SessionPersistence(
            type=p.session_persistence["type"],
            cookie_name=p.session_persistence.get("cookie_name"),
            persistence_timeout=p.session_persistence.get("persistence_timeout"),
            persistence_granularity=p.session_persistence.get("persistence_granularity"))
    hm = p.healthmonitor
    return model.Pool(
        id=p.id, protocol=p.protocol,  # type: ignore[arg-type]  # validated by the API
        lb_algorithm=p.lb_algorithm,  # type: ignore[arg-type]
        members=tuple(_member(m) for m in p.members if _live(m.provisioning_status)),
        session_persistence=persistence,
        health_monitor=_monitor(hm) if hm is not None and _live(hm.provisioning_status)
        and hm.admin_state_up else None,
        tls=pool_tls(p, collect),
    )


def _member(m: Member) -> model.Member:
    return model.Member(id=m.id, address=m.address, protocol_port=m.protocol_port,
                        weight=m.weight, backup=m.backup, admin_state_up=m.admin_state_up,
                        monitor_address=m.monitor_address, monitor_port=m.monitor_port)


def _monitor(hm: HealthMonitor) -> model.HealthMonitor:
    return model.HealthMonitor(
        type=hm.type,  # type: ignore[arg-type]  # validated by the API
        delay=hm.delay, timeout=hm.timeout, max_retries=hm.max_retries,
        max_retries_down=hm.max_retries_down, http_method=hm.http_method or "GET",
        url_path=hm.url_path or "/", expected_codes=hm.expected_codes or "200",
        # The API's float (1.0, 1.1) as HAProxy writes it.
        http_version=f"{hm.http_version:.1f}" if hm.http_version is not None else None,
        domain_name=hm.domain_name)
