"""Security groups and rules at central, with each project's ``default`` group."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import BadRequest, Conflict
from tricircle_lb.networking import policy, schemas, views
from tricircle_lb.networking.central.base import (
    Body,
    CentralBase,
    bump,
    default_sg_id,
    new_id,
)
from tricircle_lb.networking.errors import invalid, not_found
from tricircle_lb.networking.models import Port, SecurityGroup, SecurityGroupRule

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
             "gre": 47, "esp": 50, "ah": 51, "vrrp": 112, "igmp": 2, "any": None}
PORTED = {"tcp", "udp", "sctp", "6", "17", "132", "dccp", "udplite"}


class SecurityGroupOps(CentralBase):
    def ensure_default_sg(self, session: Session, project_id: str) -> SecurityGroup:
        """The project's ``default`` group, made with Neutron's rules on first use."""
        sg = session.get(SecurityGroup, default_sg_id(project_id))
        if sg is not None:
            return sg
        sg = SecurityGroup(id=default_sg_id(project_id), project_id=project_id, name="default",
                           description="Default security group")
        session.add(sg)
        for ethertype in ("IPv4", "IPv6"):
            session.add(SecurityGroupRule(id=new_id(), project_id=project_id,
                                          security_group_id=sg.id, direction="egress",
                                          ethertype=ethertype))
            session.add(SecurityGroupRule(id=new_id(), project_id=project_id,
                                          security_group_id=sg.id, direction="ingress",
                                          ethertype=ethertype, remote_group_id=sg.id))
        session.flush()
        return sg

    def create_security_group(self, ctx: Context, req: schemas.SecurityGroupCreate) -> Body:
        policy.enforce_write(ctx, "create_security_group")
        project_id = policy.owner(ctx, "create_security_group", req.project_id, req.tenant_id)
        with self.db.write() as session:
            self.ensure_default_sg(session, project_id)
            if req.name == "default":
                raise Conflict("Default security group already exists.",
                               kind="SecurityGroupDefaultAlreadyExists")
            self._check_quota(session, project_id, "security_group", SecurityGroup)
            sg = SecurityGroup(id=new_id(), project_id=project_id, name=req.name,
                               description=req.description, stateful=req.stateful,
                               tags=sorted(set(req.tags)))
            session.add(sg)
            for ethertype in ("IPv4", "IPv6"):
                session.add(SecurityGroupRule(id=new_id(), project_id=project_id,
                                              security_group_id=sg.id, direction="egress",
                                              ethertype=ethertype))
            session.flush()
            session.refresh(sg)
            return views.security_group(sg)

    def _sg(self, session: Session, ctx: Context, sg_id: str) -> SecurityGroup:
        row = session.get(SecurityGroup, sg_id)
        if row is None or not policy.can_see(ctx, row.project_id):
            raise not_found("security_group", sg_id)
        return row

    def get_security_group(self, ctx: Context, sg_id: str) -> Body:
        with self.db.read() as session:
            return views.security_group(self._sg(session, ctx, sg_id))

    def list_security_groups(self, ctx: Context, params: QueryParams) -> list[Body]:
        if ctx.project_id and ctx.can_write:
            with self.db.write() as session:
                self.ensure_default_sg(session, ctx.project_id)
        with self.db.read() as session:
            query = select(SecurityGroup)
            if not ctx.is_admin:
                query = query.where(SecurityGroup.project_id == ctx.project_id)
            return [views.security_group(r) for r in session.scalars(query)]

    def update_security_group(self, ctx: Context, sg_id: str,
                              req: schemas.SecurityGroupUpdate) -> Body:
        policy.enforce_write(ctx, "update_security_group")
        changes = req.model_dump(exclude_unset=True)
        with self.db.write() as session:
            sg = self._sg(session, ctx, sg_id)
            if sg.name == "default" and changes.get("name", "default") != "default":
                raise Conflict("Updating default security group not allowed.",
                               kind="SecurityGroupCannotUpdateDefault")
            for key, value in changes.items():
                if value is not None:
                    setattr(sg, key, value)
            bump(sg)
            self.mirrors.notify(session, "security_group", sg.id, sg.project_id)
            session.flush()
            return views.security_group(sg)

    def delete_security_group(self, ctx: Context, sg_id: str) -> None:
        policy.enforce_write(ctx, "delete_security_group")
        with self.db.write() as session:
            sg = self._sg(session, ctx, sg_id)
            if sg.name == "default" and not ctx.is_admin:
                raise Conflict("Insufficient rights for removing default security group.",
                               kind="SecurityGroupCannotRemoveDefault")
            for port in session.scalars(select(Port).where(Port.project_id == sg.project_id)):
                if sg.id in (port.security_groups or []):
                    raise Conflict(f"Security Group {sg.id} in use.", kind="SecurityGroupInUse")
            self.mirrors.notify(session, "security_group", sg.id, sg.project_id, deleting=True)
            session.delete(sg)

    # -- rules --------------------------------------------------------------

    def create_security_group_rule(self, ctx: Context,
                                   req: schemas.SecurityGroupRuleCreate) -> Body:
        policy.enforce_write(ctx, "create_security_group_rule")
        protocol = _protocol(req.protocol)
        _check_ports(protocol, req.port_range_min, req.port_range_max)
        prefix = _prefix(req.remote_ip_prefix, req.ethertype)
        if prefix and req.remote_group_id:
            raise invalid("Only remote_ip_prefix or remote_group_id may be provided.")
        with self.db.write() as session:
            sg = self._sg(session, ctx, req.security_group_id)
            project_id = policy.owner(ctx, "create_security_group_rule",
                                      req.project_id or sg.project_id, req.tenant_id)
            if req.remote_group_id:
                self._sg(session, ctx, req.remote_group_id)
            self._check_quota(session, project_id, "security_group_rule", SecurityGroupRule)
            for rule in sg.rules:
                same = (rule.direction, rule.ethertype, rule.protocol, rule.port_range_min,
                        rule.port_range_max, rule.remote_ip_prefix, rule.remote_group_id)
                if same == (req.direction, req.ethertype, protocol, req.port_range_min,
                            req.port_range_max, prefix, req.remote_group_id):
                    raise Conflict(f"Security group rule already exists. Rule id is "
                                   f"{rule.id}.", kind="SecurityGroupRuleExists")
            row = SecurityGroupRule(
                id=new_id(), project_id=project_id, security_group_id=sg.id,
                direction=req.direction, ethertype=req.ethertype, protocol=protocol,
                port_range_min=req.port_range_min, port_range_max=req.port_range_max,
                remote_ip_prefix=prefix, remote_group_id=req.remote_group_id,
                description=req.description)
            session.add(row)
            bump(sg)
            self.mirrors.notify(session, "security_group", sg.id, sg.project_id)
            session.flush()
            return views.security_group_rule(row)

    def _rule(self, session: Session, ctx: Context, rule_id: str) -> SecurityGroupRule:
        row = session.get(SecurityGroupRule, rule_id)
        if row is None or not policy.can_see(ctx, row.project_id):
            raise not_found("security_group_rule", rule_id)
        return row

    def get_security_group_rule(self, ctx: Context, rule_id: str) -> Body:
        with self.db.read() as session:
            return views.security_group_rule(self._rule(session, ctx, rule_id))

    def list_security_group_rules(self, ctx: Context, params: QueryParams) -> list[Body]:
        with self.db.read() as session:
            query = select(SecurityGroupRule)
            if not ctx.is_admin:
                query = query.where(SecurityGroupRule.project_id == ctx.project_id)
            return [views.security_group_rule(r) for r in session.scalars(query)]

    def delete_security_group_rule(self, ctx: Context, rule_id: str) -> None:
        policy.enforce_write(ctx, "delete_security_group_rule")
        with self.db.write() as session:
            row = self._rule(session, ctx, rule_id)
            sg = session.get(SecurityGroup, row.security_group_id)
            if sg is not None:
                bump(sg)
                self.mirrors.notify(session, "security_group", sg.id, sg.project_id)
            session.delete(row)


def _protocol(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).lower()
    if text in PROTOCOLS:
        return None if text == "any" else text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise BadRequest(f"Security group rule protocol {value} not supported. Only protocol "
                     f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] are "
                     "supported.", kind="SecurityGroupRuleInvalidProtocol")


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    if protocol is None:
        raise BadRequest("Must also specify protocol if port range is given.",
                         kind="SecurityGroupProtocolRequiredWithPorts")
    if protocol in ("icmp", "icmpv6", "ipv6-icmp", "1", "58"):
        for value, name in ((low, "type"), (high, "code")):
            if value is not None and not 0 <= value <= 255:
                raise invalid(f"Invalid value for ICMP {name} {value}: must be 0..255")
        return
    if protocol not in PORTED:
        raise invalid(f"Ports are not supported for protocol {protocol}")
    if low is None or high is None or not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise BadRequest(f"Invalid value for port {low if low is not None else high}",
                         kind="SecurityGroupInvalidPortValue")
    if low > high:
        raise BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                         kind="SecurityGroupInvalidPortRange")


def _prefix(prefix: str | None, ethertype: str) -> str | None:
    if prefix is None:
        return None
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError as exc:
        raise invalid(f"'{prefix}' is not a valid IP prefix") from exc
    if f"IPv{net.version}" != ethertype:
        raise BadRequest(f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                         kind="SecurityGroupRuleParameterConflict")
    return str(net)
