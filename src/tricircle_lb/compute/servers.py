"""Servers after creation: show, list, update, delete, actions, the agent's reports.

Deleting marks the server deleted at once (it leaves every list, so the host
agent removes its namespace), then releases its ports; if networking cannot
be reached the release is retried by the sweeper, which also turns servers
stuck in ``BUILD`` for longer than ``build_timeout`` into ``ERROR``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.datastructures import QueryParams

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from tricircle_lb.common.safe_regex import InvalidPattern, compile_search
from tricircle_lb.compute import policy, quotas, views
from tricircle_lb.compute.build import Builder
from tricircle_lb.compute.config import ComputeConfig
from tricircle_lb.compute.microversions import Version
from tricircle_lb.compute.models import Interface, Server, utcnow
from tricircle_lb.compute.network_client import NetworkClient
from tricircle_lb.compute.schemas import AgentReport, ServerCreateBody, ServerUpdate
from tricircle_lb.db import Database

LOG = logging.getLogger(__name__)
Body = dict[str, Any]
STATUS_FILTER = {"BUILD": "building", "ACTIVE": "active", "SHUTOFF": "stopped",
                 "ERROR": "error", "DELETED": "deleted"}


class ComputeService:
    def __init__(self, db: Database, cfg: ComputeConfig, net: NetworkClient) -> None:
        self.db = db
        self.cfg = cfg
        self.net = net
        self.builder = Builder(db, cfg, net)

    # -- create ------------------------------------------------------------------

    def create(self, ctx: Context, body: ServerCreateBody, version: Version,
               base_url: str) -> Body:
        policy.enforce_write(ctx, "os_compute_api:servers:create")
        policy.project_of(ctx)
        req = body.server
        plan = self.builder.validate(ctx, req, version)
        count = req.max_count or req.min_count
        if count < req.min_count:
            raise BadRequest("min_count must be <= max_count")
        names = [req.name] if count == 1 else [f"{req.name}-{i}" for i in range(1, count + 1)]
        with self.db.read() as session:
            quotas.check(session, policy.project_of(ctx), {
                "instances": count, "cores": count * plan.flavor.vcpus,
                "ram": count * plan.flavor.ram})
        ids = [self.builder.create(ctx, plan, name) for name in names]
        if req.return_reservation_id:
            return {"reservation_id": f"r-{ids[0][:8]}"}
        return {"server": {"id": ids[0], "links": views.links(base_url, "servers", ids[0]),
                           "OS-DCF:diskConfig": "MANUAL",
                           "security_groups": [{"name": n} for n in
                                               plan.security_groups or ["default"]],
                           "adminPass": "not-used-by-namespaces"}}

    # -- read --------------------------------------------------------------------

    def load(self, ctx: Context, server_id: str) -> Server:
        with self.db.read() as session:
            return policy.check_server(ctx, session.get(Server, server_id), server_id)

    def show(self, ctx: Context, server_id: str, version: Version, base_url: str) -> Body:
        self.load(ctx, server_id)
        self.refresh_interfaces(server_id)
        server = self.load(ctx, server_id)
        return views.server(server, version, ctx.is_admin, base_url, show=True)

    def list_servers(self, ctx: Context, params: QueryParams, version: Version, base_url: str,
             detail: bool) -> Body:
        servers = self._select(ctx, params)
        limit = params.get("limit")
        marker = params.get("marker")
        if marker:
            ids = [s.id for s in servers]
            if marker not in ids:
                raise BadRequest(f"marker [{marker}] not found")
            servers = servers[ids.index(marker) + 1:]
        page_full = False
        if limit is not None:
            try:
                size = int(limit)
            except ValueError as exc:
                raise BadRequest(f"Invalid input for query parameters limit. Value: {limit}."
                                 ) from exc
            if size < 0:
                raise BadRequest("limit must be >= 0")
            page_full = len(servers) > size
            servers = servers[:size]
        items = [views.server(s, version, ctx.is_admin, base_url) if detail
                 else views.server_brief(s, base_url) for s in servers]
        result: Body = {"servers": items}
        if page_full and servers:
            path = "servers/detail" if detail else "servers"
            result["servers_links"] = [{"rel": "next", "href": f"{base_url}/v2.1/{path}"
                                        f"?limit={limit}&marker={servers[-1].id}"}]
        return result

    def _select(self, ctx: Context, params: QueryParams) -> list[Server]:
        all_tenants = "all_tenants" in params and params.get("all_tenants", "").lower() \
            not in ("0", "false", "off", "no")
        if all_tenants:
            policy.enforce_admin(ctx, "os_compute_api:servers:index:get_all_tenants")
        want_deleted = ctx.is_admin and params.get("deleted", "").lower() in ("1", "true")
        status = params.get("status", "").upper()
        if status == "DELETED" and ctx.is_admin:
            want_deleted = True
        with self.db.read() as session:
            query = select(Server).where(Server.deleted.is_(want_deleted))
            project = params.get("project_id") or params.get("tenant_id")
            if not all_tenants:
                query = query.where(Server.project_id == policy.project_of(ctx))
            elif project:
                query = query.where(Server.project_id == project)
            if ctx.is_admin and params.get("host"):
                query = query.where(Server.host == params["host"])
            if status:
                state = STATUS_FILTER.get(status)
                if state is None:
                    return []
                query = query.where(Server.vm_state == state)
            for key, column in (("image", Server.image_id), ("flavor", Server.flavor_id),
                                ("availability_zone", Server.availability_zone)):
                if params.get(key):
                    query = query.where(column == params[key])
            rows = list(session.scalars(query))
        # Nova matches name and ip as regular expressions; RE2 matches them in linear
        # time, so no pattern makes a list expensive (common/safe_regex.py).
        name = params.get("name")
        if name:
            name_matches = _pattern("name", name)
            rows = [r for r in rows if name_matches(r.name)]
        ip = params.get("ip")
        if ip:
            ip_matches = _pattern("ip", ip)
            rows = [r for r in rows if any(ip_matches(a["ip_address"])
                                           for i in r.interfaces for a in i.fixed_ips)]
        reverse = params.get("sort_dir", "desc") != "asc"
        key = params.get("sort_key", "created_at")
        if key not in ("created_at", "updated_at", "name", "id", "host"):
            key = "created_at"
        rows.sort(key=lambda r: (str(getattr(r, key) or ""), r.id), reverse=reverse)
        return rows

    def refresh_interfaces(self, server_id: str) -> None:
        """Bring the cached interfaces up to date with networking (best effort)."""
        with self.db.read() as session:
            known = {i.port_id for i in session.scalars(
                select(Interface).where(Interface.server_id == server_id, Interface.bound))}
        if not known:
            return
        try:
            ports = {p["id"]: p for p in self.net.ports_of(server_id)}
        except ApiError as exc:
            LOG.info("cannot refresh interfaces of %s: %s", server_id, exc.message)
            return
        with self.db.write() as session:
            for port_id in known:
                iface = session.get(Interface, port_id)
                if iface is None:
                    continue
                port = ports.get(port_id)
                if port is None:
                    session.delete(iface)  # deleted or moved away in networking
                    continue
                iface.fixed_ips = [dict(ip) for ip in port.get("fixed_ips", [])]
                iface.mac_address = port.get("mac_address", iface.mac_address)
                iface.port_state = port.get("status", iface.port_state)

    # -- change ------------------------------------------------------------------

    def update(self, ctx: Context, server_id: str, req: ServerUpdate, version: Version,
               base_url: str) -> Body:
        policy.enforce_write(ctx, "os_compute_api:servers:update")
        if req.description is not None and version < (2, 19):
            raise BadRequest("Additional properties are not allowed ('description' was "
                             "unexpected)")
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            if req.name is not None:
                server.name = req.name
            if "description" in req.model_fields_set:
                server.description = req.description
            server.updated_at = utcnow()
        return self.show(ctx, server_id, version, base_url)

    def set_metadata(self, ctx: Context, server_id: str, metadata: dict[str, str],
                     replace: bool) -> dict[str, str]:
        policy.enforce_write(ctx, "os_compute_api:server-metadata:update")
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            merged = dict(metadata) if replace else {**(server.meta or {}), **metadata}
            if len(merged) > 128:
                raise Forbidden("Quota exceeded for metadata_items: Requested "
                               f"{len(merged)}, but already used 0 of 128 metadata_items")
            server.meta = merged
            return dict(merged)

    def delete_metadata(self, ctx: Context, server_id: str, key: str) -> None:
        policy.enforce_write(ctx, "os_compute_api:server-metadata:delete")
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            meta = dict(server.meta or {})
            if key not in meta:
                raise NotFound("Metadata item was not found")
            del meta[key]
            server.meta = meta

    def delete(self, ctx: Context, server_id: str) -> None:
        policy.enforce_write(ctx, "os_compute_api:servers:delete")
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            if server.locked and not ctx.is_admin:
                raise Conflict(f"Instance {server_id} is locked")
            server.deleted, server.deleted_at = True, utcnow()
            server.vm_state, server.task_state, server.power_state = "deleted", None, 0
            server.cleanup_pending = True
        self.builder.release_ports(server_id)

    def action(self, ctx: Context, server_id: str, body: Body) -> Body | None:
        policy.enforce_write(ctx, "os_compute_api:servers:action")
        if len(body) != 1:
            raise BadRequest("There is no such action: " + ",".join(body) if body
                             else "Malformed request body")
        name, args = next(iter(body.items()))
        if name == "os-getConsoleOutput":
            return {"output": self._console(ctx, server_id, args)}
        transitions = {"os-stop": (("active",), "stopped", 4),
                       "os-start": (("stopped",), "active", 1),
                       "reboot": (("active", "stopped", "error"), "active", 1)}
        if name not in transitions:
            raise BadRequest(f"There is no such action: {name}")
        if name == "reboot" and (not isinstance(args, dict)
                                 or args.get("type", "").upper() not in ("SOFT", "HARD")):
            raise BadRequest("Invalid input for field/attribute reboot. 'type' must be SOFT "
                             "or HARD")
        allowed, new_state, power = transitions[name]
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            if server.vm_state not in allowed or server.task_state is not None:
                raise Conflict(f"Cannot '{name.removeprefix('os-')}' instance {server_id} "
                               f"while it is in vm_state {server.vm_state}")
            server.vm_state, server.power_state = new_state, power
            if server.vm_state == "active":
                server.fault = None
        return None

    def _console(self, ctx: Context, server_id: str, args: Any) -> str:
        length = args.get("length") if isinstance(args, dict) else None
        try:
            lines = int(length) if length is not None else -1
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"Invalid input for field/attribute length. Value: {length}."
                             ) from exc
        text = self.load(ctx, server_id).console_log or ""
        if lines < 0:
            return text
        return "".join(text.splitlines(keepends=True)[-lines:]) if lines else ""

    # -- the host agent ---------------------------------------------------------------

    def agent_report(self, ctx: Context, server_id: str, report: AgentReport,
                     version: Version, base_url: str) -> Body:
        policy.enforce_admin(ctx, "os_compute_api:os-host-agent")
        with self.db.write() as session:
            server = policy.check_server(ctx, session.get(Server, server_id), server_id)
            if report.console_log is not None:
                data = report.console_log.encode()[-self.cfg.max_console_bytes:]
                server.console_log = data.decode(errors="ignore")
            if report.power_state is not None:
                server.power_state = report.power_state
            if report.status == "ACTIVE":
                timed_out = server.vm_state == "error" and server.host is not None
                if server.vm_state == "building" or timed_out:
                    server.vm_state, server.task_state, server.fault = "active", None, None
                    server.launched_at = server.launched_at or utcnow()
                if report.power_state is None:
                    server.power_state = 1
            elif report.status == "SHUTOFF" and server.vm_state == "active":
                server.vm_state = "stopped"
                server.power_state = 4 if report.power_state is None else server.power_state
            elif report.status == "ERROR":
                server.vm_state, server.task_state = "error", None
                server.fault = {"code": 500, "message": report.fault or "Instance failed",
                                "created": views.iso(utcnow()), "details": ""}
            server.updated_at = utcnow()
            return views.server(server, version, True, base_url, show=True)

    def sweep(self) -> None:
        """Time out builds, finish interrupted creates and deletes."""
        limit = utcnow() - timedelta(seconds=self.cfg.build_timeout)
        with self.db.read() as session:
            stuck = [(s.id, s.task_state) for s in session.scalars(
                select(Server).where(Server.deleted.is_(False), Server.vm_state == "building",
                                     Server.created_at < limit))]
            pending = list(session.scalars(select(Server.id).where(
                Server.cleanup_pending.is_(True))))
        for server_id, task in stuck:
            if task in ("scheduling", "networking"):
                self.builder.fail(server_id, f"Build of instance {server_id} aborted: "
                                  "interrupted while plugging its ports")
            else:
                self._timeout(server_id)
        for server_id in pending:
            self.builder.release_ports(server_id)

    def _timeout(self, server_id: str) -> None:
        with self.db.write() as session:
            server = session.get(Server, server_id)
            if server is None or server.vm_state != "building":
                return
            server.vm_state, server.task_state = "error", None
            server.fault = {"code": 500, "created": views.iso(utcnow()), "details": "",
                            "message": f"Build of instance {server_id} timed out after "
                                       f"{self.cfg.build_timeout:g} seconds: the host agent "
                                       f"of {server.host} did not report it running"}


def _pattern(field: str, pattern: str) -> Callable[[str], bool]:
    try:
        return compile_search(pattern)
    except InvalidPattern as exc:
        raise BadRequest(f"Invalid regular expression for {field}: {pattern}") from exc
