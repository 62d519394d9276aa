"""Fixtures of the networking tests (helpers in networking_testing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from networking_testing import Cloud, build_cloud


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    yield from build_cloud(tmp_path, monkeypatch)
