"""Real-namespace fixtures: a lab per test, removed even on failure; a session sweep.

Needs root. Every name starts with this session's ``tcl-t<token>`` prefix;
the sweep at session end removes whatever is left with that prefix (a test
interrupted half way), processes inside included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from dataplane_testing import SESSION_PREFIX, Lab

from tricircle_lb.dataplane import teardown_all

IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dataplane/" in str(item.fspath) and not IS_ROOT:
            item.add_marker(pytest.mark.skip(reason="needs root (network namespaces)"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IS_ROOT:
        teardown_all(SESSION_PREFIX)


@pytest.fixture
def lab_factory() -> Iterator[Callable[[dict[str, str]], Lab]]:
    labs: list[Lab] = []

    def make(hosts: dict[str, str]) -> Lab:
        lab = Lab(hosts)
        labs.append(lab)
        lab.underlay.ensure()
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            try:
                lab.close()
            finally:
                teardown_all(lab.prefix)


THREE_HOSTS = {"RegionOne-host1": "RegionOne", "RegionOne-host2": "RegionOne",
               "RegionTwo-host1": "RegionTwo"}


@pytest.fixture
def lab(lab_factory: Callable[[dict[str, str]], Lab]) -> Lab:
    """Three hosts, two regions, underlay built."""
    return lab_factory(THREE_HOSTS)
