"""Octavia's default RBAC: its current defaults (``octavia/policies/
keystone_default_roles.py`` with oslo.policy's ``enforce_new_defaults``, what
octavia-tempest-plugin's default ``RBAC_test_type = keystone_default_roles``
tests), over Keystone's roles (``admin`` → ``member`` → ``reader`` implied):

- ``admin``: everything, in every project (``load-balancer:admin``, and the
  global observer and quota admin, which are ``role:admin`` too);
- ``member``: create, read, update and delete in its own project;
- ``reader``: read in its own project;
- anyone else: 403 with Octavia's text.

Octavia's older ``load-balancer_*`` roles are its deprecated rules, honoured
only with ``enforce_new_defaults = False``; they grant nothing here (decision 082).

As in Octavia, an object of another project is loaded and then refused with
this 403 (its ``project_id`` is the policy's target), and so is a listing
filtered by another project's ``project_id``; a missing object is a 404.
"""

from __future__ import annotations

from enum import StrEnum

from tricircle_lb.common.context import Context
from tricircle_lb.loadbalancer.errors import forbidden

ADMIN_ROLES = frozenset({"admin"})
WRITE_ROLES = ADMIN_ROLES | {"member"}
READ_ROLES = WRITE_ROLES | {"reader"}


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


def is_admin(ctx: Context) -> bool:
    return bool(ctx.roles & ADMIN_ROLES)


def sees_all_projects(ctx: Context) -> bool:
    """Whether listings and look-ups span every project."""
    return bool(ctx.roles & ADMIN_ROLES)  # load-balancer:global_observer is role:admin


def enforce(ctx: Context, action: Action) -> None:
    """403 unless the caller's roles allow ``action`` (in its own project)."""
    allowed = {Action.READ: READ_ROLES, Action.WRITE: WRITE_ROLES, Action.ADMIN: ADMIN_ROLES}
    if not ctx.roles & allowed[action]:
        raise forbidden()
    if action is not Action.ADMIN and not is_admin(ctx) and not ctx.project_id:
        raise forbidden()


def owning_project(ctx: Context, requested: str | None) -> str:
    """The project a new object belongs to: the caller's, or for an admin the
    ``project_id`` (or ``tenant_id``) it asked for. Others asking for another
    project get 403, as in Octavia."""
    if requested and requested != ctx.project_id:
        if not is_admin(ctx):
            raise forbidden()
        return requested
    if not ctx.project_id:
        raise forbidden()
    return ctx.project_id
