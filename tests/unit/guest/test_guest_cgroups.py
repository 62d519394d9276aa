"""An instance's cgroups on stand-in hierarchies (plain directories; no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tricircle_lb.guest import cgroups
from tricircle_lb.guest.cgroups import CgroupError, Limits


def v1(tmp_path: Path) -> Path:
    for controller in ("memory", "cpu", "pids", "cpuset"):
        (tmp_path / controller).mkdir()
    return tmp_path


def test_v1_one_directory_per_controller_with_the_flavor(tmp_path: Path) -> None:
    root = v1(tmp_path)
    made = cgroups.create("tcl-", "vm1", Limits(memory_mb=128, vcpus=2), root)
    assert made == [root / c / "tricircle-lb" / "tcl" / "vm1" for c in ("memory", "cpu", "pids")]
    assert (made[0] / "memory.limit_in_bytes").read_text() == str(128 * 1024 * 1024)
    assert (made[1] / "cpu.cfs_quota_us").read_text() == "200000"
    assert (made[1] / "cpu.cfs_period_us").read_text() == "100000"
    assert (made[2] / "pids.max").read_text() == "1024"
    assert cgroups.paths("tcl-", "vm1", root) == made
    # Again: the same directories, the limits rewritten.
    assert cgroups.create("tcl-", "vm1", Limits(memory_mb=512, vcpus=1), root) == made
    assert (made[0] / "memory.limit_in_bytes").read_text() == str(512 * 1024 * 1024)


def test_v1_swap_accounting_caps_memory_and_swap_together(tmp_path: Path) -> None:
    root = v1(tmp_path)
    leaf = root / "memory" / "tricircle-lb" / "tcl" / "vm1"
    leaf.mkdir(parents=True)
    (leaf / "memory.memsw.limit_in_bytes").write_text("-1")
    cgroups.create("tcl-", "vm1", Limits(memory_mb=64), root)
    assert (leaf / "memory.memsw.limit_in_bytes").read_text() == str(64 * 1024 * 1024)


def test_no_flavor_is_unlimited(tmp_path: Path) -> None:
    root = v1(tmp_path)
    memory, cpu, _ = cgroups.create("tcl-", "vm1", Limits(), root)
    assert (memory / "memory.limit_in_bytes").read_text() == "-1"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "-1"


def test_v2_one_directory_with_controllers_enabled_on_the_way(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    made = cgroups.create("demo-", "vm1", Limits(memory_mb=256, vcpus=1), tmp_path)
    assert made == [tmp_path / "tricircle-lb" / "demo" / "vm1"]
    leaf = made[0]
    assert (leaf / "memory.max").read_text() == str(256 * 1024 * 1024)
    assert (leaf / "cpu.max").read_text() == "100000 100000"
    assert (leaf / "pids.max").read_text() == "1024"
    for parent in (tmp_path, tmp_path / "tricircle-lb", tmp_path / "tricircle-lb" / "demo"):
        assert (parent / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"


def test_remove_deletes_the_instance_and_empty_parents(tmp_path: Path) -> None:
    root = v1(tmp_path)
    for instance in ("vm1", "vm2"):
        for directory in cgroups.paths("tcl-", instance, root):
            directory.mkdir(parents=True)  # as the kernel shows them: no files to delete
    cgroups.remove(cgroups.paths("tcl-", "vm1", root))
    assert not any(d.exists() for d in cgroups.paths("tcl-", "vm1", root))
    assert all(d.exists() for d in cgroups.paths("tcl-", "vm2", root))
    assert cgroups.remove_deployment("tcl-", root) == [
        f"cgroup {root / c / 'tricircle-lb' / 'tcl' / 'vm2'}" for c in ("memory", "cpu", "pids")]
    assert not (root / "memory" / "tricircle-lb").exists()
    assert cgroups.remove_deployment("tcl-", root) == []  # twice: nothing left


def test_remove_deployment_leaves_other_deployments(tmp_path: Path) -> None:
    root = v1(tmp_path)
    for prefix in ("tcl-", "tcl-t1-"):
        for directory in cgroups.paths(prefix, "vm", root):
            directory.mkdir(parents=True)
    cgroups.remove_deployment("tcl-", root)
    assert all(d.exists() for d in cgroups.paths("tcl-t1-", "vm", root))


@pytest.mark.parametrize("prefix", ["../", "a/b-"])
def test_a_prefix_cannot_leave_the_tree(prefix: str, tmp_path: Path) -> None:
    with pytest.raises(CgroupError):
        cgroups.paths(prefix, "vm", v1(tmp_path))
