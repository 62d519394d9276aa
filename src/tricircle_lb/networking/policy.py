"""Who may see and touch what: Neutron's default policy, as a small rule table.

- ``admin`` sees and changes everything, in every project.
- ``member`` sees its own project's resources and shared networks (and their
  subnets), and changes only its own project's resources.
- ``reader`` sees what a member sees and changes nothing.
- Attributes that reveal or steer the infrastructure (provider attributes,
  ``shared``, port binding, ``network:`` device owners, ``project_id`` of
  another project) are admin only.

Something a caller may not see is reported as not found, as Neutron does, so
ids of other projects' resources do not leak.
"""

from __future__ import annotations

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden
from tricircle_lb.networking.errors import invalid

ADMIN_ONLY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "network": ("provider:network_type", "provider:physical_network",
                "provider:segmentation_id", "shared"),
    "port": ("binding:host_id", "binding:profile", "mac_address"),
}


def can_see(ctx: Context, project_id: str, shared: bool = False) -> bool:
    return ctx.is_admin or shared or project_id == ctx.project_id


def enforce_write(ctx: Context, action: str) -> None:
    if not ctx.can_write:
        raise Forbidden(f"rule:{action} is disallowed by policy", kind="PolicyNotAuthorized")


def enforce_admin(ctx: Context, action: str) -> None:
    if not ctx.is_admin:
        raise Forbidden(f"rule:{action} is disallowed by policy", kind="PolicyNotAuthorized")


def owner(ctx: Context, action: str, project_id: str | None, tenant_id: str | None) -> str:
    """The project a new resource belongs to; only admins create for other projects."""
    if project_id and tenant_id and project_id != tenant_id:
        raise invalid("project_id and tenant_id do not match")
    wanted = project_id or tenant_id or ctx.project_id
    if not wanted:
        raise Forbidden("A project-scoped token is required", kind="PolicyNotAuthorized")
    if wanted != ctx.project_id:
        enforce_admin(ctx, f"{action}:project_id")
    return wanted


def enforce_attributes(ctx: Context, resource: str, action: str, given: set[str]) -> None:
    """Admin-only attributes a non-admin tried to set (with a non-default value)."""
    if ctx.is_admin:
        return
    for attr in ADMIN_ONLY_ATTRIBUTES.get(resource, ()):
        if attr in given:
            enforce_admin(ctx, f"{action}_{resource}:{attr}")


def enforce_device_owner(ctx: Context, action: str, device_owner: str | None) -> None:
    if device_owner and device_owner.startswith("network:") and not ctx.is_admin:
        enforce_admin(ctx, f"{action}_port:device_owner")
