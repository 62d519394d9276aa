"""Pid files that survive pid reuse, and stopping processes politely.

A pid file holds ``<pid> <start time>`` (field 22 of ``/proc/<pid>/stat``,
clock ticks since boot). A process is "ours" only if both match, so a stale
pid file never makes ``down`` signal an unrelated process that happens to
have been given the same pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].startswith("Z")


def write_pid(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid} {start_time(pid) or 0}\n")
    os.replace(tmp, path)


def read_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that process is still the one recorded."""
    try:
        pid_text, _, started = path.read_text().strip().partition(" ")
        pid, recorded = int(pid_text), int(started or "0")
    except (OSError, ValueError):
        return None
    actual = start_time(pid)
    if actual is None or is_zombie(pid):
        return None
    if recorded and actual != recorded:
        return None
    return pid


def alive(pid: int) -> bool:
    return start_time(pid) is not None and not is_zombie(pid)


def terminate(pids: list[int], timeout: float = 10.0) -> None:
    """SIGTERM every pid, wait up to ``timeout`` seconds, then SIGKILL what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    remaining = [p for p in pids if alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [p for p in remaining if alive(p)]
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while remaining and time.monotonic() < deadline:
        time.sleep(0.05)
        remaining = [p for p in remaining if alive(p)]
