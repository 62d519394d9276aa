"""Worker: outcomes, wake-up, lease renewal, concurrency between workers."""

from __future__ import annotations

import threading
import time
from collections import Counter

import sqlalchemy as sa
from jobs_testing import FakeClock, Job, make_db
from prometheus_client import CollectorRegistry

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs import JobMetrics, JobQueue, JobsConfig, PermanentJobError, Worker


def enqueue_many(db: Database, queue: JobQueue[Job], n: int, type: str = "t") -> list[str]:
    with db.write() as session:
        return [queue.enqueue(session, type, {"n": i}, resource_id=f"r{i}",
                              project_id="p").id for i in range(n)]


def statuses(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {job.id: job.status for job in session.scalars(sa.select(Job))}


def test_run_once_outcomes(db: Database, queue: JobQueue[Job]) -> None:
    def permanent(job: Job) -> None:
        raise PermanentJobError("region refused the request")

    def transient(job: Job) -> None:
        raise ConnectionError("region unreachable")

    registry = CollectorRegistry()
    worker = Worker(db, queue, {"ok": lambda job: None, "perm": permanent, "flaky": transient},
                    metrics=JobMetrics(registry, db, queue))
    with db.write() as session:
        ok = queue.enqueue(session, "ok", {}, resource_id=None, project_id=None)
        perm = queue.enqueue(session, "perm", {}, resource_id=None, project_id=None)
        flaky = queue.enqueue(session, "flaky", {}, resource_id=None, project_id=None)
        unknown = queue.enqueue(session, "unknown", {}, resource_id=None, project_id=None)
    assert [worker.run_once() for _ in range(4)] == [True, True, True, False]
    # No handler for "unknown": it stays NEW for a worker that knows it.
    assert statuses(db) == {ok.id: "SUCCESS", perm.id: "FAIL", flaky.id: "NEW",
                            unknown.id: "NEW"}
    with db.read() as session:
        failed = queue.get(session, perm.id)
        retried = queue.get(session, flaky.id)
    assert failed.attempts == 1
    assert failed.last_error == "PermanentJobError: region refused the request"
    assert retried.last_error == "ConnectionError: region unreachable"

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("tricircle_job_runs_total", type="ok", outcome="success") == 1
    assert sample("tricircle_job_runs_total", type="perm", outcome="fail") == 1
    assert sample("tricircle_job_runs_total", type="flaky", outcome="retry") == 1
    assert sample("tricircle_job_duration_seconds_count", type="ok") == 1
    assert sample("tricircle_jobs", status="NEW") == 2  # flaky (backoff) and unknown
    assert sample("tricircle_jobs", status="SUCCESS") == 1
    assert sample("tricircle_jobs", status="RUNNING") == 0
    assert sample("tricircle_jobs_oldest_new_age_seconds") == 0.0


def test_transient_errors_retry_until_fail(db: Database, queue: JobQueue[Job],
                                           clock: FakeClock) -> None:
    calls: list[int] = []

    def flaky(job: Job) -> None:
        calls.append(job.attempts)
        raise TimeoutError("slow region")

    worker = Worker(db, queue, {"t": flaky})
    [job_id] = enqueue_many(db, queue, 1)
    for _ in range(3):
        assert worker.run_once()
        clock.advance(60)
    assert not worker.run_once()
    assert calls == [1, 2, 3]
    with db.read() as session:
        job = queue.get(session, job_id)
    assert job.status == "FAIL" and job.last_error == (
        "gave up after 3 attempts: TimeoutError: slow region")


def test_started_worker_is_woken_by_enqueue(db: Database) -> None:
    queue = JobQueue(Job, JobsConfig(poll_interval=30))
    done = threading.Event()
    worker = Worker(db, queue, {"t": lambda job: done.set()})
    worker.start()
    try:
        time.sleep(0.1)  # the worker is now waiting out its 30 s poll
        enqueue_many(db, queue, 1)
        assert done.wait(5), "enqueue did not wake the worker"
    finally:
        assert worker.stop(timeout=5)


def test_lease_is_renewed_while_a_long_handler_runs(db_url: str, db: Database) -> None:
    config = JobsConfig(poll_interval=0.05, lease_time=0.3)
    queue = JobQueue(Job, config)
    started, release = threading.Event(), threading.Event()

    def slow(job: Job) -> None:
        started.set()
        release.wait(5)

    worker = Worker(db, queue, {"t": slow})
    [job_id] = enqueue_many(db, queue, 1)
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    other = make_db(db_url)
    try:
        assert started.wait(5)
        deadline = time.monotonic() + 1.0  # > 3 leases
        while time.monotonic() < deadline:
            assert JobQueue(Job, config).claim(other) is None
            time.sleep(0.05)
    finally:
        release.set()
        runner.join(5)
        other.dispose()
    assert statuses(db) == {job_id: "SUCCESS"}


def test_two_workers_never_run_the_same_job_concurrently(db_url: str, db: Database) -> None:
    config = JobsConfig(poll_interval=0.01, lease_time=10)
    job_ids = enqueue_many(db, JobQueue(Job, config), 40)
    runs: Counter[str] = Counter()
    active: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            if job.id in active:
                overlaps.append(job.id)
            active.add(job.id)
            runs[job.id] += 1
        time.sleep(0.005)
        with lock:
            active.discard(job.id)

    # Separate Database objects: no shared in-process lock, only SQLite's own.
    dbs = [make_db(db_url) for _ in range(2)]
    workers = [Worker(d, JobQueue(Job, config), {"t": handler}, name=f"w{i}")
               for i, d in enumerate(dbs)]
    workers.append(Worker(db, JobQueue(Job, config), {"t": handler}, name="w-shared"))
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 20
        while set(statuses(db).values()) != {"SUCCESS"} and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for worker in workers:
            assert worker.stop(timeout=5)
        for d in dbs:
            d.dispose()
    assert overlaps == []
    assert runs == Counter(dict.fromkeys(job_ids, 1))
