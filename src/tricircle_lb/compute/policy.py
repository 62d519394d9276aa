"""Nova's default policy, as far as this service needs it.

Members see and act on their own project's servers; admins on every
project's (lists across projects with ``all_tenants``). Another project's
server is reported as not found, so its id does not leak. Host placement,
host attributes and the agent's reports are admin only.
"""

from __future__ import annotations

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden, NotFound
from tricircle_lb.compute.models import Server


def server_not_found(server_id: str) -> NotFound:
    return NotFound(f"Instance {server_id} could not be found.", kind="InstanceNotFound")


def check_server(ctx: Context, server: Server | None, server_id: str) -> Server:
    if server is None or server.deleted or not (ctx.is_admin
                                                or server.project_id == ctx.project_id):
        raise server_not_found(server_id)
    return server


def enforce_admin(ctx: Context, rule: str) -> None:
    if not ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")


def enforce_write(ctx: Context, rule: str) -> None:
    if not ctx.can_write:
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")


def project_of(ctx: Context) -> str:
    if not ctx.project_id:
        raise Forbidden("A project-scoped token is required.")
    return ctx.project_id
