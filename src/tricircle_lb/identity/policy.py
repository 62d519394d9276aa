"""Keystone's default policy, for the rules that matter here.

- ``admin`` (on any project or domain) may do everything;
- anyone may validate, check and revoke their own token, read the catalog and
  list their own projects, and read their own user and the projects they
  have a token for;
- everything else needs ``admin`` → 403.
"""

from __future__ import annotations

from tricircle_lb.common.context import Context
from tricircle_lb.common.errors import Forbidden


def denied(action: str) -> Forbidden:
    return Forbidden(f"You are not authorized to perform the requested action: "
                     f"identity:{action}.")


def enforce(ctx: Context, action: str, *, owner: bool = False) -> None:
    """Allow admins, and the owner when ``owner`` is true; 403 otherwise."""
    if ctx.is_admin or owner:
        return
    raise denied(action)
