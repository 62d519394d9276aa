"""JobQueue against a temporary SQLite file, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from jobs_testing import FakeClock, Job

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs import JobConflict, JobNotFound, JobQueue, JobsConfig, JobStatus


def enqueue(db: Database, queue: JobQueue[Job], key: str | None = None,
            payload: dict[str, object] | None = None, type: str = "network_delete") -> Job:
    with db.write() as session:
        return queue.enqueue(session, type, payload or {}, resource_id="net-1",
                             project_id="p1", dedup_key=key)


def all_jobs(db: Database) -> list[Job]:
    with db.read() as session:
        return list(session.scalars(sa.select(Job).order_by(Job.created_at)))


def test_enqueue_in_rolled_back_transaction_leaves_no_job(
        db: Database, queue: JobQueue[Job]) -> None:
    with pytest.raises(RuntimeError), db.write() as session:
        queue.enqueue(session, "network_delete", {"id": "net-1"}, resource_id="net-1",
                      project_id="p1")
        raise RuntimeError("the resource change failed")
    assert all_jobs(db) == []
    job = enqueue(db, queue, payload={"id": "net-1"})
    [stored] = all_jobs(db)
    assert (stored.id, stored.status, stored.payload) == (job.id, "NEW", {"id": "net-1"})


def test_dedup_collapses_pending_work_and_keeps_the_newest_payload(
        db: Database, queue: JobQueue[Job]) -> None:
    first = enqueue(db, queue, key="net-1", payload={"v": 1})
    second = enqueue(db, queue, key="net-1", payload={"v": 2})
    enqueue(db, queue, key="net-2")
    with db.write() as session:  # twice in one transaction too
        a = queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
        b = queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
        assert a is b
    assert second.id == first.id
    jobs = all_jobs(db)
    assert len(jobs) == 3
    assert jobs[0].payload == {"v": 2}


def test_same_key_work_waits_while_a_job_with_that_key_runs(
        db: Database, queue: JobQueue[Job]) -> None:
    running = enqueue(db, queue, key="net-1", payload={"v": 1})
    assert (claimed := queue.claim(db)) is not None and claimed.id == running.id
    newer = enqueue(db, queue, key="net-1", payload={"v": 2})
    assert newer.id != running.id  # a RUNNING job may have read stale state
    assert queue.claim(db) is None  # serialised behind the running one
    assert queue.complete(db, claimed)
    again = queue.claim(db)
    assert again is not None and again.id == newer.id and again.payload == {"v": 2}


def test_retry_absorbs_newer_pending_job_with_same_key(
        db: Database, queue: JobQueue[Job]) -> None:
    enqueue(db, queue, key="net-1", payload={"v": 1})
    claimed = queue.claim(db)
    assert claimed is not None
    enqueue(db, queue, key="net-1", payload={"v": 2})
    assert queue.retry_later(db, claimed, "boom")
    [job] = all_jobs(db)
    assert (job.id, job.status, job.payload, job.attempts) == (claimed.id, "NEW", {"v": 2}, 1)


def test_backoff_is_capped_exponential_with_jitter(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    expected = [1, 2]  # backoff_base=1; max_attempts=3 -> FAIL on the third failure
    for delay in expected:
        job = queue.claim(db)
        assert job is not None
        assert queue.retry_later(db, job, "transient")
        assert job.run_after == clock.now + timedelta(seconds=delay)
        clock.advance(delay - 0.01)
        assert queue.claim(db) is None
        clock.advance(0.01)
    assert [queue.backoff(n) for n in range(1, 7)] == [1, 2, 4, 5, 5, 5]
    low = JobQueue(Job, queue.config, clock=clock, jitter=lambda: 0.0)
    assert [low.backoff(n) for n in (1, 3, 9)] == [0.5, 2, 2.5]


def test_max_attempts_ends_in_fail_with_last_error(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    for _ in range(3):
        job = queue.claim(db)
        assert job is not None
        queue.retry_later(db, job, f"attempt {job.attempts} failed")
        clock.advance(60)
    assert queue.claim(db) is None
    [job] = all_jobs(db)
    assert job.status == "FAIL" and job.attempts == 3
    assert job.last_error == "gave up after 3 attempts: attempt 3 failed"
    assert job.finished_at == clock.now - timedelta(seconds=60)


def test_expired_lease_is_claimed_again_and_the_old_claim_is_fenced(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    crashed = queue.claim(db)  # the worker dies: never completes
    assert crashed is not None and crashed.status == "RUNNING"
    clock.advance(9.9)
    assert queue.claim(db) is None  # lease (10 s) still held
    clock.advance(0.2)
    retaken = queue.claim(db)
    assert retaken is not None and retaken.id == crashed.id and retaken.attempts == 2
    assert not queue.complete(db, crashed)  # a zombie cannot finish the new claim
    assert not queue.renew(db, crashed)
    assert queue.complete(db, retaken)
    assert queue.claim(db) is None
    [job] = all_jobs(db)
    assert job.status == "SUCCESS" and job.attempts == 2


def test_a_job_that_keeps_killing_its_worker_ends_in_fail(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    for _ in range(3):
        assert queue.claim(db) is not None
        clock.advance(11)
    assert queue.claim(db) is None
    [job] = all_jobs(db)
    assert job.status == "FAIL" and "lease expired" in (job.last_error or "")


def test_every_way_a_job_ends_fail_is_told_once(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    """Issue 10: a permanent error, the last attempt, and a lease that ran out on every
    attempt each tell the failure listeners, once, after the FAIL is committed; a
    success, a retry and a lost claim do not; a listener that raises stops nothing."""
    told: list[tuple[str, str, str]] = []

    def listener(job: Job) -> None:
        with db.read() as session:  # committed: another session sees it
            stored = session.get(Job, job.id)
            assert stored is not None and stored.status == "FAIL"
        told.append((job.id, job.status, str(job.payload["why"])))

    def broken(job: Job) -> None:
        raise RuntimeError("the listener itself failed")

    queue.on_failure(broken)
    queue.on_failure(listener)
    permanent = enqueue(db, queue, payload={"why": "permanent"})
    claimed = queue.claim(db)
    assert claimed is not None and claimed.id == permanent.id
    assert queue.fail(db, claimed, "refused")
    assert not queue.fail(db, claimed, "refused again")  # no longer our claim: not told
    exhausted = enqueue(db, queue, payload={"why": "exhausted"})
    for _ in range(3):
        job = queue.claim(db)
        assert job is not None and job.id == exhausted.id
        queue.retry_later(db, job, "transient")
        clock.advance(60)
    dying = enqueue(db, queue, payload={"why": "lease"})
    for _ in range(3):
        assert queue.claim(db) is not None
        clock.advance(11)
    assert queue.claim(db) is None
    succeeded = enqueue(db, queue, payload={"why": "success"})
    job = queue.claim(db)
    assert job is not None and job.id == succeeded.id and queue.complete(db, job)
    assert told == [(permanent.id, "FAIL", "permanent"), (exhausted.id, "FAIL", "exhausted"),
                    (dying.id, "FAIL", "lease")]


def test_renew_extends_the_lease(db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    job = queue.claim(db)
    assert job is not None
    clock.advance(8)
    assert queue.renew(db, job)
    clock.advance(8)
    assert queue.claim(db) is None


def test_claim_orders_by_due_time_and_filters_types(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    with db.write() as session:
        later = queue.enqueue(session, "a", {}, resource_id=None, project_id=None,
                              run_after=clock.now + timedelta(seconds=5))
        first = queue.enqueue(session, "a", {}, resource_id=None, project_id=None)
        other = queue.enqueue(session, "b", {}, resource_id=None, project_id=None)
    claimed = queue.claim(db, types=["a"])
    assert claimed is not None and claimed.id == first.id
    assert queue.claim(db, types=["a"]) is None  # "later" is not due yet
    clock.advance(5)
    nxt = queue.claim(db, types=["a"])
    assert nxt is not None and nxt.id == later.id
    last = queue.claim(db)
    assert last is not None and last.id == other.id


def test_admin_list_get_delete_redo(db: Database, queue: JobQueue[Job]) -> None:
    a = enqueue(db, queue, type="network_delete")
    with db.write() as session:
        queue.enqueue(session, "port_update", {}, resource_id="port-1", project_id="p2")
    job = queue.claim(db, types=["network_delete"])
    assert job is not None
    queue.fail(db, job, "PermanentJobError: refused")
    with db.write() as session:
        assert {j.type for j in queue.list(session)} == {"network_delete", "port_update"}
        assert [j.id for j in queue.list(session, status="FAIL")] == [a.id]
        assert [j.type for j in queue.list(session, project_id="p2")] == ["port_update"]
        assert queue.list(session, type="nope") == []
        with pytest.raises(JobNotFound):
            queue.get(session, "missing")
        pending = queue.list(session, status="NEW")[0]
        with pytest.raises(JobConflict):
            queue.delete(session, pending.id)
        with pytest.raises(JobConflict):
            queue.redo(session, pending.id)
        redone = queue.redo(session, a.id)
        assert (redone.status, redone.attempts, redone.finished_at) == ("NEW", 0, None)
    assert (again := queue.claim(db, types=["network_delete"])) is not None
    assert queue.fail(db, again, "refused again")
    with db.write() as session:
        queue.delete(session, a.id)
    with db.read() as session, pytest.raises(JobNotFound) as err:
        queue.get(session, a.id)
    assert err.value.status_code == 404


def test_redo_conflicts_with_pending_same_key_work(db: Database, queue: JobQueue[Job]) -> None:
    enqueue(db, queue, key="k")
    job = queue.claim(db)
    assert job is not None and queue.fail(db, job, "x")
    enqueue(db, queue, key="k")
    with pytest.raises(JobConflict), db.write() as session:
        queue.redo(session, job.id)


def test_purge_deletes_old_successes_only(
        db: Database, queue: JobQueue[Job], clock: FakeClock) -> None:
    enqueue(db, queue)
    enqueue(db, queue)
    job = queue.claim(db)
    assert job is not None and queue.complete(db, job)
    clock.advance(3600)
    with db.write() as session:
        assert queue.purge(session, timedelta(minutes=30)) == 1
    assert [j.status for j in all_jobs(db)] == ["NEW"]


def test_listeners_are_called_after_commit_only(db: Database, clock: FakeClock) -> None:
    queue = JobQueue(Job, JobsConfig(), clock=clock)
    calls: list[int] = []
    queue.subscribe(lambda: calls.append(1))
    with pytest.raises(RuntimeError), db.write() as session:
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
        raise RuntimeError
    assert calls == []
    with db.write() as session:
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
        queue.enqueue(session, "t", {}, resource_id=None, project_id=None)
        assert calls == []
    assert calls == [1]
    assert JobStatus.NEW == "NEW"
