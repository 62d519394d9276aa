"""Enqueue, claim and finish jobs; the admin operations behind ``/v1.0/jobs``.

Every state change after ``enqueue`` is one UPDATE fenced by
``(id, status = RUNNING, attempts)``: a worker can only finish the claim it
holds, so a worker that lost its lease (it hung past ``lease_until`` and the
job was claimed again) cannot overwrite the new owner's result.

A job ends FAIL in exactly two places: :meth:`JobQueue.fail` (a permanent
error, or :meth:`~JobQueue.retry_later` after the last attempt) and
:meth:`JobQueue.claim` (its lease ran out on every attempt, so no handler had
the last word). Both tell the listeners of :meth:`~JobQueue.on_failure`, which
is where a service puts the objects a failed job leaves behind into an error
state.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs.config import JobsConfig
from tricircle_lb.jobs.errors import JobConflict, JobNotFound
from tricircle_lb.jobs.models import JobMixin, JobStatus, new_id, utcnow

LOG = logging.getLogger(__name__)
J = TypeVar("J", bound=JobMixin)
Clock = Callable[[], datetime]

NEW, RUNNING = JobStatus.NEW.value, JobStatus.RUNNING.value
SUCCESS, FAIL = JobStatus.SUCCESS.value, JobStatus.FAIL.value
_MAX_ERROR = 8000
_WAKE_PENDING = "tricircle_lb.jobs.wake_pending"


class JobQueue(Generic[J]):
    """The queue over one service's job model (``class Job(JobMixin, Base)``).

    ``clock`` returns naive UTC; ``jitter`` returns a float in [0, 1). Both are
    injectable so tests control time and backoff.
    """

    def __init__(self, model: type[J], config: JobsConfig | None = None, *,
                 clock: Clock = utcnow, jitter: Callable[[], float] = random.random) -> None:
        self.model = model
        self.config = config or JobsConfig()
        self.clock = clock
        self.jitter = jitter
        self._listeners: list[Callable[[], None]] = []
        self._failure_listeners: list[Callable[[J], object]] = []

    # -- producing ---------------------------------------------------------

    def enqueue(self, session: Session, type: str, payload: Mapping[str, Any], *,
                resource_id: str | None, project_id: str | None,
                dedup_key: str | None = None, run_after: datetime | None = None,
                max_attempts: int | None = None) -> J:
        """Add a job to the caller's transaction: it exists iff that transaction commits.

        With ``dedup_key``, a NEW job with the same key absorbs this one: it
        takes the newest payload and the earlier ``run_after``, and is returned.
        """
        now = self.clock()
        due = run_after or now
        self._wake_after_commit(session)
        if dedup_key is not None:
            pending = self._pending(session, dedup_key)
            if pending is None:
                job = self._new(type, payload, resource_id, project_id, dedup_key, due,
                                max_attempts, now)
                try:
                    with session.begin_nested():
                        session.add(job)
                    return job
                except IntegrityError:  # a concurrent transaction enqueued the same key
                    pending = self._pending(session, dedup_key)
                    if pending is None:
                        raise
            pending.payload = dict(payload)
            pending.run_after = min(pending.run_after, due)
            pending.updated_at = now
            return pending
        job = self._new(type, payload, resource_id, project_id, None, due, max_attempts, now)
        session.add(job)
        return job

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit of a transaction that enqueued a job."""
        self._listeners.append(listener)

    def on_failure(self, listener: Callable[[J], object]) -> None:
        """Call ``listener(job)`` once a job has ended FAIL, whatever the cause, after that
        is committed (``job`` detached: read it, don't change it). An exception from
        ``listener`` is logged, not raised."""
        self._failure_listeners.append(listener)

    # -- consuming ---------------------------------------------------------

    def claim(self, db: Database, types: Collection[str] | None = None) -> J | None:
        """Take the oldest due job (NEW, or RUNNING with an expired lease) of ``types``.

        The job comes back RUNNING with ``attempts`` incremented and a lease of
        ``lease_time``. A job whose lease expired ``max_attempts`` times (its
        worker keeps dying) is set FAIL instead and the next one is tried.
        """
        while True:
            with db.write() as session:
                now = self.clock()
                job: J | None = session.scalars(
                    self._claim_statement(now, types)).one_or_none()
                if job is None:
                    return None
                if job.attempts <= job.max_attempts:
                    return job
                job.status, job.finished_at, job.lease_until = FAIL, now, None
                job.last_error = _clip(f"lease expired on each of {job.max_attempts} attempts "
                                       f"(worker died or hung); last error: {job.last_error}")
            self._tell_failed(job)

    def renew(self, db: Database, job: J) -> bool:
        """Extend the lease of a claimed job; False if the claim was lost."""
        until = self.clock() + timedelta(seconds=self.config.lease_time)
        return self._finish(db, job, lease_until=until)

    def complete(self, db: Database, job: J) -> bool:
        now = self.clock()
        return self._finish(db, job, status=SUCCESS, finished_at=now, lease_until=None)

    def fail(self, db: Database, job: J, error: str) -> bool:
        """Permanent failure: FAIL now, whatever attempts are left."""
        now = self.clock()
        held = self._finish(db, job, status=FAIL, finished_at=now, lease_until=None,
                            last_error=_clip(error))
        if held:
            self._tell_failed(job)
        return held

    def retry_later(self, db: Database, job: J, error: str) -> bool:
        """Transient failure: NEW again after a backoff, or FAIL after ``max_attempts``."""
        if job.attempts >= job.max_attempts:
            return self.fail(db, job, f"gave up after {job.attempts} attempts: {error}")
        run_after = self.clock() + timedelta(seconds=self.backoff(job.attempts))
        with db.write() as session:
            # Touch first: checks the claim and, on SQLite, takes the write lock.
            if not self._fenced_update(session, job, {}):
                return False
            changes: dict[str, Any] = {"status": NEW, "run_after": run_after,
                                       "lease_until": None, "last_error": _clip(error)}
            newer = self._pending(session, job.dedup_key) if job.dedup_key else None
            if newer is not None:  # enqueued while we ran: take its payload, drop it
                changes["payload"] = newer.payload
                changes["run_after"] = min(run_after, newer.run_after)
                session.delete(newer)
                session.flush()
            return self._fenced_update(session, job, changes)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (1-based): capped exponential, jittered."""
        cfg = self.config
        delay = min(cfg.backoff_max, cfg.backoff_base * 2.0 ** max(attempt - 1, 0))
        return delay * (0.5 + 0.5 * self.jitter())

    # -- admin (/v1.0/jobs) ------------------------------------------------

    def list(self, session: Session, *, type: str | None = None, status: str | None = None,
             project_id: str | None = None, limit: int = 1000) -> list[J]:
        """Jobs, newest first, filtered by type, status and project."""
        m = self.model
        stmt = sa.select(m).order_by(m.created_at.desc(), m.id).limit(limit)
        for column, value in ((m.type, type), (m.status, status), (m.project_id, project_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        return list(session.scalars(stmt))

    def get(self, session: Session, job_id: str) -> J:
        job = session.get(self.model, job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} could not be found")
        return job

    def delete(self, session: Session, job_id: str) -> None:
        """Delete a finished job (FAIL or SUCCESS); pending work cannot be deleted."""
        job = self.get(session, job_id)
        if job.status not in (FAIL, SUCCESS):
            raise JobConflict(f"job {job_id} is {job.status}; only FAIL or SUCCESS jobs "
                              f"can be deleted")
        session.delete(job)

    def redo(self, session: Session, job_id: str) -> J:
        """Reset a FAIL job to NEW with a fresh attempt budget, due now."""
        job = self.get(session, job_id)
        if job.status != FAIL:
            raise JobConflict(f"job {job_id} is {job.status}; only FAIL jobs can be redone")
        if job.dedup_key and (pending := self._pending(session, job.dedup_key)) is not None:
            raise JobConflict(f"job {pending.id} already does this work ({job.dedup_key})")
        now = self.clock()
        job.status, job.attempts, job.run_after, job.updated_at = NEW, 0, now, now
        job.finished_at = job.lease_until = None
        self._wake_after_commit(session)
        return job

    def purge(self, session: Session, older_than: timedelta) -> int:
        """Delete SUCCESS jobs finished more than ``older_than`` ago; returns how many."""
        m = self.model
        cutoff = self.clock() - older_than
        result = session.execute(sa.delete(m).where(m.status == SUCCESS, m.finished_at < cutoff))
        return int(getattr(result, "rowcount", 0))

    # -- internals ---------------------------------------------------------

    def _tell_failed(self, job: J) -> None:
        for listener in self._failure_listeners:
            try:
                listener(job)
            except Exception:
                LOG.exception("job %s (%s): a failure listener failed", job.id, job.type)

    def _new(self, type: str, payload: Mapping[str, Any], resource_id: str | None,
             project_id: str | None, dedup_key: str | None, due: datetime,
             max_attempts: int | None, now: datetime) -> J:
        job = self.model()
        job.id, job.type, job.status = new_id(), type, NEW
        job.resource_id, job.project_id = resource_id, project_id
        job.payload, job.dedup_key = dict(payload), dedup_key
        job.attempts, job.max_attempts = 0, max_attempts or self.config.max_attempts
        job.run_after, job.created_at, job.updated_at = due, now, now
        return job

    def _pending(self, session: Session, dedup_key: str) -> J | None:
        m = self.model
        stmt = sa.select(m).where(m.dedup_key == dedup_key, m.status == NEW).with_for_update()
        return session.scalars(stmt).one_or_none()

    def _claim_statement(self, now: datetime, types: Collection[str] | None) -> Any:
        m = self.model
        cand, running = aliased(m), aliased(m)
        same_key_running = sa.exists().where(running.dedup_key == cand.dedup_key,
                                             running.status == RUNNING)
        due_new = sa.and_(cand.status == NEW, cand.run_after <= now,
                          sa.or_(cand.dedup_key.is_(None), ~same_key_running))
        expired = sa.and_(cand.status == RUNNING, cand.lease_until < now)
        pick = sa.select(cand.id).where(sa.or_(due_new, expired))
        if types is not None:
            pick = pick.where(cand.type.in_(list(types)))
        pick = (pick.order_by(cand.run_after, cand.created_at).limit(1)
                .with_for_update(skip_locked=True, of=cand))
        lease_until = now + timedelta(seconds=self.config.lease_time)
        return (sa.update(m).where(m.id == pick.scalar_subquery())
                .values(status=RUNNING, attempts=m.attempts + 1, lease_until=lease_until,
                        updated_at=now)
                .returning(m)
                .execution_options(synchronize_session=False))

    def _finish(self, db: Database, job: J, **changes: Any) -> bool:
        with db.write() as session:
            return self._fenced_update(session, job, changes)

    def _fenced_update(self, session: Session, job: J, changes: dict[str, Any]) -> bool:
        m = self.model
        changes["updated_at"] = self.clock()
        result = session.execute(
            sa.update(m)
            .where(m.id == job.id, m.status == RUNNING, m.attempts == job.attempts)
            .values(**changes).execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            return False
        for name, value in changes.items():
            setattr(job, name, value)
        return True

    def _wake_after_commit(self, session: Session) -> None:
        if not self._listeners or session.info.get(_WAKE_PENDING):
            return
        session.info[_WAKE_PENDING] = True

        def _committed(committed: Session) -> None:
            committed.info.pop(_WAKE_PENDING, None)
            for listener in self._listeners:
                listener()

        sa.event.listen(session, "after_commit", _committed, once=True)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."
