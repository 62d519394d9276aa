from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_testing import FakeClock, Job, make_db

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs import JobQueue, JobsConfig


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = make_db(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> JobsConfig:
    return JobsConfig(poll_interval=0.05, lease_time=10, max_attempts=3,
                      backoff_base=1, backoff_max=5)


@pytest.fixture
def queue(config: JobsConfig, clock: FakeClock) -> JobQueue[Job]:
    return JobQueue(Job, config, clock=clock, jitter=lambda: 1.0)
