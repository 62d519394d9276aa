"""Suite-wide fixtures: ``cloud``, a real embedded deployment for end-to-end tests.

The helpers live in ``tests/tests_support.py`` (importable from every test,
as ``from tests_support import Cloud``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests_support import GUARD, Cloud, start_cloud, stop_cloud, write_topology


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """The session's embedded deployment (identity, central, RegionOne, RegionTwo)."""
    root = tmp_path_factory.mktemp("cloud")
    try:
        c = start_cloud(root)
        yield c
    finally:
        for c in list(GUARD.clouds):
            if c.state_dir.parent == root:
                stop_cloud(c)


@pytest.fixture()
def cloud_factory() -> Iterator[Callable[..., Cloud]]:
    """Start extra, short-lived deployments (``factory(root, regions=1)``); all removed after."""
    started: list[Cloud] = []

    def factory(root: Path, regions: int = 1) -> Cloud:
        c = start_cloud(root, regions)
        started.append(c)
        return c

    try:
        yield factory
    finally:
        for c in started:
            stop_cloud(c)


@pytest.fixture()
def topology_writer() -> Callable[[Path, Path, int], dict[str, int]]:
    """:func:`write_topology`: a test topology file on free ports."""
    return write_topology
