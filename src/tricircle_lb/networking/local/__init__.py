"""Local networking: a region's Neutron that mirrors central on demand.

Reads are served from the region's mirrors; a resource the region has not
seen yet is fetched from central (as the caller, so central's policy decides
what they may see), registered in central's routing table and mirrored with
the same id. Writes go to central first, then to the mirror. Central's
routing registration is also where a ``local`` network of another region is
refused (``network not located in current region``).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ApiError, NotFound
from tricircle_lb.db import Database
from tricircle_lb.networking import policy, schemas, views
from tricircle_lb.networking.client import seg
from tricircle_lb.networking.config import NetworkingConfig
from tricircle_lb.networking.errors import not_found
from tricircle_lb.networking.local import mirror_store
from tricircle_lb.networking.local.agents import Agents
from tricircle_lb.networking.local.central_client import CentralClient
from tricircle_lb.networking.models import (
    Network,
    Port,
    SecurityGroupRule,
    Subnet,
)

Body = dict[str, Any]
SHADOW_OWNER = "compute:shadow"
PATHS = {"network": "networks", "subnet": "subnets", "port": "ports",
         "security_group": "security-groups"}
VIEWS: dict[str, Any] = {"network": views.network, "subnet": views.subnet, "port": views.port,
                         "security_group": views.security_group}


class LocalPlugin:
    def __init__(self, db: Database, cfg: NetworkingConfig, central: CentralClient,
                 agents: Agents) -> None:
        self.db = db
        self.cfg = cfg
        self.central = central
        self.agents = agents
        self.region_name = cfg.region_name

    # -- mirroring ------------------------------------------------------------

    def mirror(self, resource_type: str, body: Body) -> Body:
        """Register ``body`` (central's view) at central for this region, then store it.

        A network comes with the subnets central lists for it (as Tricircle's
        local plugin does), so the region shows the same ``subnets``.
        """
        self._mirror_dependencies(resource_type, body)
        self.central.register(resource_type, body["id"], body.get("project_id") or "")
        with self.db.write() as session:
            row = mirror_store.UPSERT[resource_type](session, body)
            view = self._view(session, resource_type, row)
        if resource_type == "network" and self._mirror_subnets(body):
            with self.db.read() as session:
                network = session.get(Network, body["id"])
                if network is not None:
                    view = self._view(session, "network", network)
        return view

    def _mirror_subnets(self, network: Body) -> bool:
        """Mirror the subnets of central's ``network`` this region lacks; whether any were.

        A subnet deleted at central meanwhile is skipped (its network's next
        look-up no longer lists it).
        """
        added = False
        for subnet_id in network.get("subnets") or []:
            try:
                added = self._ensure("subnet", subnet_id) or added
            except NotFound:
                continue
        return added

    def _mirror_dependencies(self, resource_type: str, body: Body) -> None:
        if resource_type in ("subnet", "port"):
            self._ensure("network", body["network_id"])
        if resource_type == "port":
            for ip in body.get("fixed_ips") or []:
                self._ensure("subnet", ip["subnet_id"])
            for sg_id in body.get("security_groups") or []:
                self._ensure("security_group", sg_id)

    def _ensure(self, resource_type: str, resource_id: str) -> bool:
        """Mirror a resource something else depends on (as the service); whether it was
        missing."""
        with self.db.read() as session:
            if session.get(mirror_store.MODELS[resource_type], resource_id) is not None:
                return False
        path = f"/v2.0/{PATHS[resource_type]}/{seg(resource_id)}"
        body = self.central.request("GET", path)[resource_type]
        self.mirror(resource_type, body)
        return True

    def _view(self, session: Session, resource_type: str, row: Any) -> Body:
        if resource_type == "network":
            return views.network(row, [self.cfg.availability_zone or self.region_name])
        result: Body = VIEWS[resource_type](row)
        return result

    def _get(self, ctx: Context, resource_type: str, resource_id: str) -> Body:
        if not resource_id:
            raise not_found(resource_type, resource_id)
        model = mirror_store.MODELS[resource_type]
        with self.db.read() as session:
            row = session.get(model, resource_id)
            if row is not None:
                if not self._visible(session, ctx, row):
                    raise not_found(resource_type, resource_id)
                return self._view(session, resource_type, row)
        path = f"/v2.0/{PATHS[resource_type]}/{seg(resource_id)}"
        body = self.central.request("GET", path, ctx.token)[resource_type]
        return self.mirror(resource_type, body)

    def _visible(self, session: Session, ctx: Context, row: Any) -> bool:
        shared = bool(getattr(row, "shared", False))
        if isinstance(row, Subnet):
            net = session.get(Network, row.network_id)
            shared = bool(net and net.shared)
        return policy.can_see(ctx, row.project_id, shared)

    def _list(self, ctx: Context, resource_type: str, params: QueryParams) -> list[Body]:
        model = mirror_store.MODELS[resource_type]
        with self.db.read() as session:
            rows = [r for r in session.scalars(select(model)) if self._visible(session, ctx, r)]
            local = [self._view(session, resource_type, r) for r in rows]
        wanted = {k: params.getlist(k) for k in ("id", "name") if k in params}
        if resource_type == "port" or not wanted:
            return local
        if any(all(b.get(k) in v for k, v in wanted.items()) for b in local):
            return local
        # Not here yet: a name or id look-up (how clients resolve names) asks central.
        found = self._central_list(ctx, resource_type, wanted)
        if not found and "name" in wanted:
            # Clients that get an error showing an id retry it as a name
            # (openstacksdk's find): look it up as an id so the error is seen.
            ids = [v for v in wanted["name"] if _looks_like_id(v)]
            found = self._central_list(ctx, resource_type, {"id": ids}) if ids else []
        return local + [self.mirror(resource_type, body) for body in found]

    def _central_list(self, ctx: Context, resource_type: str,
                      filters: dict[str, list[str]]) -> list[Body]:
        query = [(k, v) for k, values in filters.items() for v in values]
        collection = PATHS[resource_type]
        found: list[Body] = self.central.request(
            "GET", f"/v2.0/{collection}", ctx.token, params=query)[collection.replace("-", "_")]
        return found

    def sync(self, resource_type: str, resource_id: str) -> str:
        """Re-read one mirror from central: ``updated``, ``deleted`` or ``absent``."""
        model = mirror_store.MODELS[resource_type]
        with self.db.read() as session:
            present = session.get(model, resource_id) is not None
        if not present:
            return "absent"
        try:
            body = self.central.request(
                "GET", f"/v2.0/{PATHS[resource_type]}/{seg(resource_id)}")[resource_type]
        except NotFound:
            with self.db.write() as session:
                mirror_store.remove(session, resource_type, resource_id)
            return "deleted"
        if resource_type == "port":
            # A group given to the port at central (the load-balancer service's VIP
            # group) is mirrored with it, as on a first look-up: the host agents
            # read the rules of their ports' groups here.
            for sg_id in body.get("security_groups") or []:
                with contextlib.suppress(NotFound):
                    self._ensure("security_group", sg_id)
        with self.db.write() as session:
            mirror_store.UPSERT[resource_type](session, body)
        if resource_type == "network":
            self._mirror_subnets(body)
        return "updated"

    def _forget(self, resource_type: str, resource_id: str) -> None:
        with self.db.write() as session:
            mirror_store.remove(session, resource_type, resource_id)

    def _create(self, ctx: Context, resource_type: str, body: Body) -> Body:
        created = self.central.request("POST", f"/v2.0/{PATHS[resource_type]}", ctx.token,
                                       body={resource_type: body})[resource_type]
        try:
            return self.mirror(resource_type, created)
        except ApiError:
            # Nothing half-done: undo the creation at central.
            self.central.request("DELETE", f"/v2.0/{PATHS[resource_type]}/{seg(created['id'])}",
                                 ctx.token)
            raise

    def _update(self, ctx: Context, resource_type: str, resource_id: str, body: Body) -> Body:
        self._get(ctx, resource_type, resource_id)
        updated = self.central.request("PUT", f"/v2.0/{PATHS[resource_type]}/{seg(resource_id)}",
                                       ctx.token, body={resource_type: body})[resource_type]
        return self.mirror(resource_type, updated)

    def _delete(self, ctx: Context, resource_type: str, resource_id: str) -> None:
        try:
            self.central.request("DELETE", f"/v2.0/{PATHS[resource_type]}/{seg(resource_id)}",
                                 ctx.token)
        except NotFound:
            with self.db.read() as session:
                row = session.get(mirror_store.MODELS[resource_type], resource_id)
                if row is None or not self._visible(session, ctx, row):
                    raise
        self._forget(resource_type, resource_id)

    # -- networks -----------------------------------------------------------

    def create_network(self, ctx: Context, req: schemas.NetworkCreate) -> Body:
        body = req.model_dump(by_alias=True, exclude_unset=True)
        if not body.get("availability_zone_hints"):
            body["availability_zone_hints"] = [self.region_name]
        return self._create(ctx, "network", body)

    def get_network(self, ctx: Context, network_id: str) -> Body:
        return self._get(ctx, "network", network_id)

    def list_networks(self, ctx: Context, params: QueryParams) -> list[Body]:
        return self._list(ctx, "network", params)

    def update_network(self, ctx: Context, network_id: str,
                       req: schemas.NetworkUpdate) -> Body:
        return self._update(ctx, "network", network_id, req.model_dump(exclude_unset=True))

    def delete_network(self, ctx: Context, network_id: str) -> None:
        self._delete(ctx, "network", network_id)

    # -- subnets --------------------------------------------------------------

    def create_subnet(self, ctx: Context, req: schemas.SubnetCreate) -> Body:
        self.get_network(ctx, req.network_id)  # refuses another region's local network
        return self._create(ctx, "subnet", req.model_dump(exclude_unset=True))

    def get_subnet(self, ctx: Context, subnet_id: str) -> Body:
        return self._get(ctx, "subnet", subnet_id)

    def list_subnets(self, ctx: Context, params: QueryParams) -> list[Body]:
        return self._list(ctx, "subnet", params)

    def update_subnet(self, ctx: Context, subnet_id: str, req: schemas.SubnetUpdate) -> Body:
        return self._update(ctx, "subnet", subnet_id, req.model_dump(exclude_unset=True))

    def delete_subnet(self, ctx: Context, subnet_id: str) -> None:
        self._delete(ctx, "subnet", subnet_id)

    # -- ports ----------------------------------------------------------------

    def create_port(self, ctx: Context, req: schemas.PortCreate) -> Body:
        self.get_network(ctx, req.network_id)
        body = self._with_binding(req.model_dump(by_alias=True, exclude_unset=True))
        return self._create(ctx, "port", body)

    def _with_binding(self, body: Body) -> Body:
        """Add where a bound port lives (region, host, the host's VTEP) to its profile."""
        if "binding:host_id" not in body:
            return body
        host = body["binding:host_id"] or ""
        profile = {k: v for k, v in (body.get("binding:profile") or {}).items()
                   if k not in ("region", "host", "tunnel_ip")}
        if host:
            profile.update({"region": self.region_name, "host": host})
            tunnel_ip = self.agents.tunnel_ip(host)
            if tunnel_ip:
                profile["tunnel_ip"] = tunnel_ip
        return body | {"binding:profile": profile}

    def get_port(self, ctx: Context, port_id: str) -> Body:
        return self._get(ctx, "port", port_id)

    def list_ports(self, ctx: Context, params: QueryParams) -> list[Body]:
        return self._list(ctx, "port", params)

    def update_port(self, ctx: Context, port_id: str, req: schemas.PortUpdate) -> Body:
        body = self._with_binding(req.model_dump(by_alias=True, exclude_unset=True))
        return self._update(ctx, "port", port_id, body)

    def set_port_status(self, ctx: Context, port_id: str, status: str) -> Body:
        policy.enforce_admin(ctx, "update_port:status")
        body = self.central.request("PUT", f"/v1.0/ports/{seg(port_id)}/status",
                                    body={"status": status})["port"]
        return self.mirror("port", body)

    def refresh_bindings(self, host: str) -> int:
        """Give ports bound to ``host`` before its agent reported (or since its VTEP
        changed) the host's current VTEP; how many were updated."""
        with self.db.read() as session:
            ports = [(p.id, dict(p.binding_profile or {})) for p in session.scalars(
                select(Port).where(Port.binding_host_id == host,
                                   Port.device_owner != SHADOW_OWNER))]
        tunnel_ip = self.agents.tunnel_ip(host)
        updated = 0
        for port_id, profile in ports:
            if profile.get("tunnel_ip") == tunnel_ip:
                continue
            body = self._with_binding({"binding:host_id": host, "binding:profile": profile})
            port = self.central.request("PUT", f"/v2.0/ports/{seg(port_id)}",
                                        body={"port": body})["port"]
            self.mirror("port", port)
            updated += 1
        return updated

    def sync_shadow_ports(self, network_id: str) -> list[str]:
        """Hold the bound ports other regions have on ``network_id`` as shadow ports.

        Re-derived from central each time (idempotent): shadow ports that are
        no longer bound elsewhere are removed. Returns the shadow port ids.
        """
        with self.db.read() as session:
            if session.get(Network, network_id) is None:
                return []
        ports = self.central.request("GET", "/v2.0/ports",
                                     params=[("network_id", network_id)])["ports"]
        remote = [p for p in ports
                  if (p.get("binding:profile") or {}).get("region") not in (None,
                                                                             self.region_name)
                  and (p.get("binding:profile") or {}).get("tunnel_ip")]
        for port in remote:
            for ip in port.get("fixed_ips") or []:
                self._ensure("subnet", ip["subnet_id"])
        wanted = {p["id"] for p in remote}
        with self.db.write() as session:
            stale = session.scalars(select(Port).where(
                Port.network_id == network_id, Port.device_owner == SHADOW_OWNER,
                Port.id.not_in(wanted)))
            for row in stale:
                session.delete(row)
            for port in remote:
                mirror_store.upsert_port(session, port | {
                    "device_owner": SHADOW_OWNER, "name": f"shadow_port_{port['id']}",
                    "status": "ACTIVE"})
        return sorted(wanted)

    def delete_port(self, ctx: Context, port_id: str) -> None:
        self._delete(ctx, "port", port_id)

    # -- security groups --------------------------------------------------------

    def create_security_group(self, ctx: Context, req: schemas.SecurityGroupCreate) -> Body:
        return self._create(ctx, "security_group", req.model_dump(exclude_unset=True))

    def get_security_group(self, ctx: Context, sg_id: str) -> Body:
        return self._get(ctx, "security_group", sg_id)

    def list_security_groups(self, ctx: Context, params: QueryParams) -> list[Body]:
        return self._list(ctx, "security_group", params)

    def update_security_group(self, ctx: Context, sg_id: str,
                              req: schemas.SecurityGroupUpdate) -> Body:
        return self._update(ctx, "security_group", sg_id, req.model_dump(exclude_unset=True))

    def delete_security_group(self, ctx: Context, sg_id: str) -> None:
        self._delete(ctx, "security_group", sg_id)

    def create_security_group_rule(self, ctx: Context,
                                   req: schemas.SecurityGroupRuleCreate) -> Body:
        self.get_security_group(ctx, req.security_group_id)
        rule = self.central.request(
            "POST", "/v2.0/security-group-rules", ctx.token,
            body={"security_group_rule": req.model_dump(exclude_unset=True)}
        )["security_group_rule"]
        self.sync("security_group", req.security_group_id)
        return dict(rule)

    def get_security_group_rule(self, ctx: Context, rule_id: str) -> Body:
        with self.db.read() as session:
            row = session.get(SecurityGroupRule, rule_id)
            if row is not None and policy.can_see(ctx, row.project_id):
                return views.security_group_rule(row)
        body = self.central.request("GET", f"/v2.0/security-group-rules/{seg(rule_id)}",
                                    ctx.token)["security_group_rule"]
        self._ensure("security_group", body["security_group_id"])
        return dict(body)

    def list_security_group_rules(self, ctx: Context, params: QueryParams) -> list[Body]:
        with self.db.read() as session:
            return [views.security_group_rule(r) for r in session.scalars(select(SecurityGroupRule))
                    if policy.can_see(ctx, r.project_id)]

    def delete_security_group_rule(self, ctx: Context, rule_id: str) -> None:
        rule = self.get_security_group_rule(ctx, rule_id)
        self.central.request("DELETE", f"/v2.0/security-group-rules/{seg(rule_id)}", ctx.token)
        self.sync("security_group", rule["security_group_id"])

    # -- the rest -------------------------------------------------------------

    def set_tags(self, ctx: Context, collection: str, resource_id: str,
                 tags: list[str]) -> list[str]:
        resource_type = {v: k for k, v in PATHS.items()}[collection]
        self._get(ctx, resource_type, resource_id)
        result = self.central.request("PUT", f"/v2.0/{collection}/{seg(resource_id)}/tags",
                                      ctx.token, body={"tags": tags})
        self.sync(resource_type, resource_id)
        return list(result["tags"])

    def availability_zones(self) -> list[Body]:
        return [{"name": self.cfg.availability_zone or self.region_name,
                 "resource": "network", "state": "available"}]


def _looks_like_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
