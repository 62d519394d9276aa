"""The jobs queue on a real PostgreSQL: transactions, SKIP LOCKED, migration."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pg_jobs_testing import Job, PgServiceBase, Widget
from prometheus_client import CollectorRegistry

from tricircle_lb.db.engine import Database
from tricircle_lb.db.migrate import upgrade
from tricircle_lb.jobs import JobMetrics, JobQueue, JobsConfig, Worker

pytestmark = pytest.mark.postgres

MIGRATIONS = Path(__file__).parent / "migrations"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1)

    def __call__(self) -> datetime:
        return self.now


def jobs(db: Database) -> list[Job]:
    with db.read() as session:
        return list(session.scalars(sa.select(Job).order_by(Job.created_at)))


def test_job_commits_with_the_resource_change_or_not_at_all(pg_db: Database) -> None:
    queue = JobQueue(Job)
    with pytest.raises(RuntimeError), pg_db.write() as session:
        session.add(Widget(id="w1", name="doomed"))
        queue.enqueue(session, "widget_sync", {"id": "w1"}, resource_id="w1", project_id="p")
        raise RuntimeError("rolled back")
    assert jobs(pg_db) == []
    with pg_db.write() as session:
        session.add(Widget(id="w1", name="kept"))
        queue.enqueue(session, "widget_sync", {"id": "w1"}, resource_id="w1", project_id="p")
    job = queue.claim(pg_db)
    assert job is not None and (job.status, job.attempts) == ("RUNNING", 1)
    assert queue.claim(pg_db) is None
    assert queue.complete(pg_db, job)
    [stored] = jobs(pg_db)
    assert stored.status == "SUCCESS" and stored.payload == {"id": "w1"}
    registry = CollectorRegistry()
    JobMetrics(registry, pg_db, queue)
    assert registry.get_sample_value("tricircle_jobs", {"status": "SUCCESS"}) == 1


def test_skip_locked_claimers_pass_over_each_others_rows(pg_db: Database) -> None:
    queue = JobQueue(Job)
    with pg_db.write() as session:
        first = queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
    with pg_db.write() as session:
        second = queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
    with pg_db.engine.connect() as holder, holder.begin():
        # Another claimer is in the middle of claiming the oldest job.
        holder.execute(sa.text("SELECT id FROM jobs WHERE id = :id FOR UPDATE"),
                       {"id": first.id})
        started = time.monotonic()
        claimed = queue.claim(pg_db)
        assert claimed is not None and claimed.id == second.id
        assert queue.claim(pg_db) is None  # the locked one is skipped, not waited for
        assert time.monotonic() - started < 2
    claimed_first = queue.claim(pg_db)
    assert claimed_first is not None and claimed_first.id == first.id


def test_concurrent_workers_run_each_job_exactly_once(pg_db: Database) -> None:
    config = JobsConfig(poll_interval=0.01)
    queue = JobQueue(Job, config)
    with pg_db.write() as session:
        ids = [queue.enqueue(session, "t", {"n": i}, resource_id=None, project_id=None).id
               for i in range(100)]
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            runs[job.id] += 1

    dbs = [Database(pg_db.url) for _ in range(6)]
    workers = [Worker(d, JobQueue(Job, config), {"t": handler}, name=f"w{i}")
               for i, d in enumerate(dbs)]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 30
        while sum(runs.values()) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for worker in workers:
            assert worker.stop(timeout=5)
        for d in dbs:
            d.dispose()
    assert runs == Counter(dict.fromkeys(ids, 1))
    assert {job.status for job in jobs(pg_db)} == {"SUCCESS"}


def test_concurrent_enqueues_of_the_same_key_collapse(pg_db: Database) -> None:
    queue = JobQueue(Job)
    inserted, results = threading.Event(), []

    def first() -> None:
        with pg_db.write() as session:
            results.append(queue.enqueue(session, "t", {"v": 1}, resource_id=None,
                                         project_id=None, dedup_key="k").id)
            inserted.set()
            time.sleep(0.5)  # commit while the second transaction waits on the index

    thread = threading.Thread(target=first)
    thread.start()
    assert inserted.wait(5)
    with pg_db.write() as session:
        second = queue.enqueue(session, "t", {"v": 2}, resource_id=None, project_id=None,
                               dedup_key="k")
    thread.join(5)
    assert second.id == results[0]
    [job] = jobs(pg_db)
    assert (job.status, job.payload) == ("NEW", {"v": 2})


def test_expired_lease_is_taken_over_and_the_old_claim_fenced(pg_db: Database) -> None:
    clock = Clock()
    queue = JobQueue(Job, JobsConfig(lease_time=5), clock=clock)
    with pg_db.write() as session:
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
    lost = queue.claim(pg_db)
    assert lost is not None
    clock.now += timedelta(seconds=6)
    taken = queue.claim(pg_db)
    assert taken is not None and taken.attempts == 2
    assert not queue.complete(pg_db, lost)
    assert queue.retry_later(pg_db, taken, "boom")
    [job] = jobs(pg_db)
    assert (job.status, job.last_error) == ("NEW", "boom")


def test_alembic_migration_creates_the_jobs_table(pg: Database) -> None:
    upgrade(pg, MIGRATIONS)
    with pg.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection),
                                PgServiceBase.metadata) == []
        indexdef = connection.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_jobs_dedup_key_new'"
        )).scalar_one()
    assert "UNIQUE" in indexdef and "WHERE" in indexdef and "'NEW'" in indexdef
    queue = JobQueue(Job)
    with pg.write() as session:
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
    with pg.write() as session:
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
    assert len(jobs(pg)) == 1
