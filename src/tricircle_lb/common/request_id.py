"""Request ids that follow one user request across every service it touches.

A request id arrives in ``X-Openstack-Request-Id`` (set by a peer service) or
is made here; it is kept in a context variable so log records and outgoing
calls carry it without being passed around.
"""

from __future__ import annotations

import contextvars
import re
import uuid

HEADER = "X-Openstack-Request-Id"
_FORMAT = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new() -> str:
    return f"req-{uuid.uuid4()}"


def accept(inbound: str | None) -> str:
    """The inbound id when it is well formed (so logs can't be forged), else a new one."""
    if inbound and _FORMAT.match(inbound):
        return inbound
    return new()
