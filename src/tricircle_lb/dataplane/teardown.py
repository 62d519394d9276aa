"""Removing every namespace with the project prefix, and the processes inside.

``tricircle-lb down`` and the test suite's session sweep call
:func:`teardown_all`. A namespace that still has a process in it outlives
``ip netns delete`` (the process holds it), keeping its devices and veth
peers, so processes are killed first: SIGTERM, a short grace, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from tricircle_lb.dataplane.names import PREFIX
from tricircle_lb.dataplane.netlink import NETNS_DIR, NetlinkDataplane

LOG = logging.getLogger(__name__)


def _netns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def processes_in(namespaces: list[str]) -> dict[int, str]:
    """Pids whose network namespace is one of ``namespaces`` (by name), mapped to that name."""
    inodes = {ino: name for name in namespaces
              if (ino := _netns_inode(os.path.join(NETNS_DIR, name))) is not None}
    found: dict[int, str] = {}
    if not inodes:
        return found
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        ino = _netns_inode(str(entry / "ns" / "net"))
        if ino in inodes:
            found[int(entry.name)] = inodes[ino]
    return found


def kill_processes(namespaces: list[str], grace: float = 2.0) -> list[int]:
    """SIGTERM then SIGKILL every process inside ``namespaces``; the pids signalled."""
    pids = processes_in(namespaces)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        alive = processes_in(namespaces)
        if not alive:
            break
        time.sleep(0.05)
    for pid in processes_in(namespaces):
        _signal(pid, signal.SIGKILL)
    return sorted(pids)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def teardown_all(prefix: str = PREFIX) -> list[str]:
    """Delete every namespace named ``prefix…``; a line per thing removed.

    Safe to run twice, after a crash, or when nothing exists.
    """
    if not prefix:
        raise ValueError("refusing to tear down every namespace: empty prefix")
    dataplane = NetlinkDataplane()
    removed: list[str] = []
    try:
        names = [n for n in dataplane.namespaces() if n.startswith(prefix)]
        for pid in kill_processes(names):
            removed.append(f"process {pid}")
        for name in names:
            try:
                dataplane.delete_namespace(name)
                removed.append(f"namespace {name}")
            except Exception:
                LOG.exception("removing namespace %s failed", name)
    finally:
        dataplane.close()
    return removed
