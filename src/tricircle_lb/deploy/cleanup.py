"""Removing what a deployment created outside its state directory.

``down`` calls :func:`cleanup` after every process is stopped. Nothing in
the control plane creates kernel objects yet; the data plane (next issues)
adds its removal here: network namespaces and interfaces it created, all
named with :data:`PREFIX`, and any process left in them. Each step must be
idempotent and tolerate objects that are already gone, because ``down`` is
safe to run twice and after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tricircle_lb.deploy.topology import Topology

LOG = logging.getLogger(__name__)

PREFIX = "tcl-"

Step = Callable[[Topology], list[str]]

# Later issues append steps; each returns a human-readable line per object removed.
STEPS: list[Step] = []


def cleanup(topology: Topology) -> list[str]:
    """Run every cleanup step; what was removed (failures are logged, not raised)."""
    removed: list[str] = []
    for step in STEPS:
        try:
            removed.extend(step(topology))
        except Exception:
            LOG.exception("cleanup step %s failed", getattr(step, "__name__", step))
    return removed
