"""Namespace prefixes belong to one state directory (deploy/claims.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests_support import private_default_topology
from tricircle_lb.deploy import claims, launcher, processes
from tricircle_lb.deploy.state import StatePaths


@pytest.fixture()
def claims_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "claims"
    monkeypatch.setattr(claims, "CLAIMS_DIR", where)
    return where


def _running(state_dir: Path) -> None:
    """Make ``state_dir`` look like a deployment whose supervisor runs (this process)."""
    paths = StatePaths(state_dir)
    paths.create()
    processes.write_pid(paths.pid_file("supervisor"), os.getpid())


def test_a_live_owner_keeps_its_prefix(tmp_path: Path, claims_dir: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    _running(theirs)
    claims.claim("tcl-", theirs, lambda: [])
    with pytest.raises(claims.PrefixTaken, match="belongs to the deployment in"):
        claims.claim("tcl-", mine, lambda: [])
    assert claims.owner("tcl-") == theirs
    assert claims.owns("tcl-", theirs) and not claims.owns("tcl-", mine)
    claims.release("tcl-", mine)  # not the owner: nothing changes
    assert claims.owner("tcl-") == theirs


def test_namespaces_left_behind_keep_the_prefix_taken(tmp_path: Path,
                                                      claims_dir: Path) -> None:
    theirs = tmp_path / "theirs"
    StatePaths(theirs).create()  # crashed: no supervisor, but its namespaces remain
    claims.claim("tcl-", theirs, lambda: [])
    with pytest.raises(claims.PrefixTaken):
        claims.claim("tcl-", tmp_path / "mine", lambda: ["tcl-h-RegionOne-host1"])


def test_a_stale_claim_is_taken_over(tmp_path: Path, claims_dir: Path) -> None:
    gone, mine = tmp_path / "gone", tmp_path / "mine"
    claims.claim("tcl-", gone, lambda: [])  # its state directory was never made (purged)
    claims.claim("tcl-", mine, lambda: ["tcl-tother-h-x"])
    assert claims.owner("tcl-") == mine
    claims.release("tcl-", mine)
    assert claims.owner("tcl-") is None


def test_an_unclaimed_prefix_belongs_to_a_state_dir_that_ran(tmp_path: Path,
                                                             claims_dir: Path) -> None:
    ran, never = tmp_path / "ran", tmp_path / "never"
    StatePaths(ran).create()
    StatePaths(ran).topology.write_text("[DEFAULT]\n")
    assert claims.owns("tcl-", ran)
    assert not claims.owns("tcl-", never)


def test_down_leaves_another_deployments_namespaces_alone(tmp_path: Path,
                                                         claims_dir: Path) -> None:
    theirs = tmp_path / "theirs"
    _running(theirs)
    dep = launcher.Deployment(private_default_topology(tmp_path / "mine"))
    claims.claim(dep.topology.prefix, theirs, lambda: [])
    StatePaths(dep.topology.state_dir).create()
    StatePaths(dep.topology.state_dir).topology.write_text("[DEFAULT]\n")
    done = launcher.down(dep, purge=False)
    assert done == [f"left the namespaces {dep.topology.prefix}… alone: they belong to "
                    f"the deployment in {theirs}"]
    assert claims.owner(dep.topology.prefix) == theirs


def test_prefixes_that_name_the_default_deployments_namespaces_are_refused() -> None:
    from tricircle_lb.deploy.topology import TopologyError, default_topology_text, parse

    for label in ("h", "i", "p", "underlay"):
        text = default_topology_text().replace("cidr = 198.18.0.0/15",
                                               f"cidr = 198.18.0.0/15\nprefix = tcl-{label}-")
        with pytest.raises(TopologyError, match="would name the namespaces"):
            parse(text)
