"""An instance's cgroups: its flavor's memory and vCPUs, and a pids limit (decision 063).

Each instance gets ``tricircle-lb/<deployment>/<instance>`` in every
hierarchy it needs, at the hierarchy's root (the agent's own cgroup is the
supervisor's business). With cgroup v2 (``cgroup.controllers`` at the root)
that is one directory with ``memory.max``, ``memory.swap.max``, ``cpu.max``
and ``pids.max``, the controllers enabled on the way down; with cgroup v1
(or a hybrid host) one directory in each of the ``memory``, ``cpu`` and
``pids`` hierarchies (``memory.limit_in_bytes`` and, with swap accounting,
``memory.memsw.limit_in_bytes``; ``cpu.cfs_quota_us``; ``pids.max``).

The guest launcher writes its child's pid into ``cgroup.procs`` of each; its
processes inherit them. :func:`remove` deletes them once empty (killed
processes leave within moments), :func:`remove_deployment` everything of a
deployment (``tricircle-lb down``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
TOP = "tricircle-lb"
V1_CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000
REMOVE_WAIT = 5.0


class CgroupError(Exception):
    """A cgroup could not be made, limited or removed."""


@dataclass(frozen=True)
class Limits:
    """What an instance may use: its flavor's RAM and vCPUs (``None``: unlimited)."""

    memory_mb: int | None = None
    vcpus: int | None = None
    pids: int = 1024


def deployment_name(prefix: str) -> str:
    """The directory of a deployment: its namespace prefix without the dash (``tcl``)."""
    name = prefix.strip("-") or "default"
    if "/" in name or name in (".", ".."):
        raise CgroupError(f"bad deployment prefix {prefix!r}")
    return name


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").is_file()


def paths(prefix: str, instance_id: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """The instance's cgroup directories (whether they exist or not)."""
    leaf = Path(TOP, deployment_name(prefix), instance_id)
    if is_v2(root):
        return [root / leaf]
    return [root / c / leaf for c in V1_CONTROLLERS if (root / c).is_dir()]


def create(prefix: str, instance_id: str, limits: Limits,
           root: Path = CGROUP_ROOT) -> list[Path]:
    """Make (or keep) the instance's cgroups with ``limits``; their directories."""
    made = paths(prefix, instance_id, root)
    try:
        if is_v2(root):
            _enable_v2_controllers(root, made[0])
            made[0].mkdir(parents=True, exist_ok=True)
            _write_v2(made[0], limits)
        else:
            for directory in made:
                directory.mkdir(parents=True, exist_ok=True)
                _write_v1(directory, limits)
    except OSError as exc:
        raise CgroupError(f"cgroups of {instance_id}: {exc}") from exc
    return made


def _enable_v2_controllers(root: Path, leaf: Path) -> None:
    parent = root
    for part in leaf.relative_to(root).parts[:-1]:
        _write(parent / "cgroup.subtree_control", "+memory +cpu +pids")
        parent = parent / part
        parent.mkdir(exist_ok=True)
    _write(parent / "cgroup.subtree_control", "+memory +cpu +pids")


def _write_v2(directory: Path, limits: Limits) -> None:
    memory = "max" if limits.memory_mb is None else str(limits.memory_mb * 1024 * 1024)
    _write(directory / "memory.max", memory)
    if (directory / "memory.swap.max").exists():
        _write(directory / "memory.swap.max", "0")
    quota = "max" if limits.vcpus is None else str(limits.vcpus * CPU_PERIOD_US)
    _write(directory / "cpu.max", f"{quota} {CPU_PERIOD_US}")
    _write(directory / "pids.max", str(limits.pids))


def _write_v1(directory: Path, limits: Limits) -> None:
    controller = _v1_controller(directory)
    if controller == "memory":
        memory = -1 if limits.memory_mb is None else limits.memory_mb * 1024 * 1024
        swap = directory / "memory.memsw.limit_in_bytes"
        # memsw >= memory at every moment: raise it first when it exists.
        if swap.exists():
            _write(swap, "-1")
        _write(directory / "memory.limit_in_bytes", str(memory))
        if swap.exists():
            _write(swap, str(memory))
    elif controller == "cpu":
        _write(directory / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        quota = -1 if limits.vcpus is None else limits.vcpus * CPU_PERIOD_US
        _write(directory / "cpu.cfs_quota_us", str(quota))
    elif controller == "pids":
        _write(directory / "pids.max", str(limits.pids))


def _v1_controller(directory: Path) -> str:
    # <root>/<controller>/tricircle-lb/<deployment>/<instance>
    return directory.parents[2].name


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def remove(directories: list[Path], wait: float = REMOVE_WAIT) -> None:
    """Delete the directories (waiting for their killed processes to leave), then
    their deployment's and ``tricircle-lb``'s if empty."""
    for directory in directories:
        _rmdir(directory, wait)
        for parent in (directory.parent, directory.parent.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()


def _rmdir(directory: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise CgroupError(f"removing cgroup {directory}: {exc}") from exc
            time.sleep(0.05)


def remove_deployment(prefix: str, root: Path = CGROUP_ROOT) -> list[str]:
    """Every cgroup of the deployment (its processes are gone); a line per one removed."""
    name = deployment_name(prefix)
    tops = [root / TOP] if is_v2(root) else [root / c / TOP for c in V1_CONTROLLERS]
    removed: list[str] = []
    for top in tops:
        deployment = top / name
        if not deployment.is_dir():
            continue
        for leaf in sorted(p for p in deployment.iterdir() if p.is_dir()):
            try:
                _rmdir(leaf, REMOVE_WAIT)
                removed.append(f"cgroup {leaf}")
            except CgroupError:
                continue
        with contextlib.suppress(OSError):
            deployment.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
    return removed
