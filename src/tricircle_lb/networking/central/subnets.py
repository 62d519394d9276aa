"""Subnets at central: CIDR checks, allocation pools, gateway, in-use rules."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.networking import ipam, policy, schemas, views
from tricircle_lb.networking.central.base import Body, CentralBase, bump, new_id
from tricircle_lb.networking.errors import in_use, invalid
from tricircle_lb.networking.models import IPAllocation, Network, Subnet


class SubnetOps(CentralBase):
    def create_subnet(self, ctx: Context, req: schemas.SubnetCreate) -> Body:
        policy.enforce_write(ctx, "create_subnet")
        project_id = policy.owner(ctx, "create_subnet", req.project_id, req.tenant_id)
        if req.ip_version == 4 and (req.ipv6_ra_mode or req.ipv6_address_mode):
            raise invalid("ipv6_ra_mode or ipv6_address_mode cannot be set when "
                          "enable_dhcp is set to False or ip_version is 4")
        _check_addresses(req.dns_nameservers, req.ip_version, "dns_nameservers")
        plan = ipam.plan_subnet(
            req.cidr, req.ip_version, req.gateway_ip, "gateway_ip" in req.model_fields_set,
            [p.model_dump() for p in req.allocation_pools]
            if req.allocation_pools is not None else None)
        routes = [r.model_dump() for r in req.host_routes]
        _check_routes(routes, req.ip_version)
        with self.db.write() as session:
            net = self._network(session, ctx, req.network_id)
            if net.project_id != project_id and not ctx.is_admin:
                policy.enforce_admin(ctx, "create_subnet:network")
            self._check_quota(session, project_id, "subnet", Subnet)
            ipam.check_no_overlap(session, net.id, plan.cidr)
            row = Subnet(
                id=new_id(), project_id=project_id, network_id=net.id, name=req.name,
                description=req.description, ip_version=req.ip_version, cidr=plan.cidr,
                gateway_ip=plan.gateway_ip, enable_dhcp=req.enable_dhcp,
                allocation_pools=plan.allocation_pools, dns_nameservers=req.dns_nameservers,
                host_routes=routes, ipv6_ra_mode=req.ipv6_ra_mode,
                ipv6_address_mode=req.ipv6_address_mode, tags=sorted(set(req.tags)))
            session.add(row)
            bump(net)
            session.flush()
            # Regions that mirror the network re-read it and mirror the new subnet, so
            # their `network show` lists it as central's does.
            self.mirrors.notify(session, "network", net.id, net.project_id)
            return views.subnet(row)

    def get_subnet(self, ctx: Context, subnet_id: str) -> Body:
        with self.db.read() as session:
            return views.subnet(self._subnet(session, ctx, subnet_id))

    def list_subnets(self, ctx: Context, params: QueryParams) -> list[Body]:
        with self.db.read() as session:
            query = select(Subnet)
            if not ctx.is_admin:
                shared_nets = select(Network.id).where(Network.shared)
                query = query.where((Subnet.project_id == ctx.project_id)
                                    | Subnet.network_id.in_(shared_nets))
            return [views.subnet(r) for r in session.scalars(query)]

    def update_subnet(self, ctx: Context, subnet_id: str, req: schemas.SubnetUpdate) -> Body:
        policy.enforce_write(ctx, "update_subnet")
        changes = req.model_dump(exclude_unset=True)
        with self.db.write() as session:
            row = self._subnet(session, ctx, subnet_id)
            if row.project_id != ctx.project_id:
                policy.enforce_admin(ctx, "update_subnet")
            if "gateway_ip" in changes or "allocation_pools" in changes:
                gateway = changes.get("gateway_ip", row.gateway_ip)
                pools = changes.get("allocation_pools", row.allocation_pools)
                plan = ipam.plan_subnet(row.cidr, row.ip_version, gateway, True, pools)
                row.gateway_ip, row.allocation_pools = plan.gateway_ip, plan.allocation_pools
            if "dns_nameservers" in changes:
                _check_addresses(changes["dns_nameservers"] or [], row.ip_version,
                                 "dns_nameservers")
                row.dns_nameservers = changes["dns_nameservers"] or []
            if "host_routes" in changes:
                routes = changes["host_routes"] or []
                _check_routes(routes, row.ip_version)
                row.host_routes = routes
            for key in ("name", "description", "enable_dhcp"):
                if changes.get(key) is not None:
                    setattr(row, key, changes[key])
            bump(row)
            self.mirrors.notify(session, "subnet", row.id, row.project_id)
            session.flush()
            return views.subnet(row)

    def delete_subnet(self, ctx: Context, subnet_id: str) -> None:
        policy.enforce_write(ctx, "delete_subnet")
        with self.db.write() as session:
            row = self._subnet(session, ctx, subnet_id)
            if row.project_id != ctx.project_id:
                policy.enforce_admin(ctx, "delete_subnet")
            if session.scalar(select(IPAllocation.port_id).where(
                    IPAllocation.subnet_id == row.id)):
                raise in_use("subnet", row.id,
                             "One or more ports have an IP allocation from this subnet.")
            self.mirrors.notify(session, "subnet", row.id, row.project_id, deleting=True)
            net = session.get(Network, row.network_id)
            if net is not None:
                bump(net)
            session.delete(row)


def _check_addresses(addresses: list[str], ip_version: int, what: str) -> None:
    if len(set(addresses)) != len(addresses):
        raise invalid(f"Duplicate address in {what}")
    for text in addresses:
        if ipam.parse_ip(text, what).version != ip_version:
            raise invalid(f"{text} in {what} is not an IPv{ip_version} address")


def _check_routes(routes: list[dict[str, str]], ip_version: int) -> None:
    for route in routes:
        try:
            dest = ipaddress.ip_network(route["destination"], strict=False)
        except ValueError as exc:
            raise invalid(f"'{route['destination']}' is not a valid destination") from exc
        nexthop = ipam.parse_ip(route["nexthop"], "nexthop")
        if dest.version != ip_version or nexthop.version != ip_version:
            raise invalid(f"host route {route} does not match ip_version {ip_version}")
