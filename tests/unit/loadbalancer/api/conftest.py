"""Fixtures of the load-balancer API tests (helpers in lb_testing.py).

``lb_cloud``: central + RegionOne + RegionTwo networking and the
load-balancer service of both regions, in-process (see lb_testing.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The networking harness this one builds on (tests/unit/networking).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "networking"))

from lb_testing import LbCloud, build_lb_cloud


@pytest.fixture
def lb_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LbCloud]:
    yield from build_lb_cloud(tmp_path, monkeypatch)
