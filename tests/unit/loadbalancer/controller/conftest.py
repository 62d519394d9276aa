"""Fixtures of the controller-flow tests (helpers in controller_testing.py).

``lb_cloud`` is the load-balancer API tests' cloud (real networking and
load-balancer apps in-process); ``rig`` adds the management plumbing the
deployment's bootstrap makes, two tenant subnets, and RegionOne's controller
with compute and the amphora agents replaced by the fakes of
``tricircle_lb.loadbalancer.drivers.fakes``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The harnesses this one builds on: networking's, then the load-balancer API tests'.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "networking"))

from controller_testing import Rig, build_rig
from lb_testing import LbCloud, build_lb_cloud


@pytest.fixture
def lb_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LbCloud]:
    yield from build_lb_cloud(tmp_path, monkeypatch)


@pytest.fixture
def rig(lb_cloud: LbCloud) -> Rig:
    return build_rig(lb_cloud)
