"""A thread that claims due jobs and runs their handlers.

Handler contract (``Callable[[Job], None]``, one per job type):

- **At least once.** A handler may run more than once for the same job: after
  a crash or ``kill -9`` mid-run, after a lost lease, after a transient error.
  It must be idempotent (create-if-absent, delete-if-present, converge to the
  desired state) and leave no partial state on failure that a rerun can't fix.
- **Errors.** ``PermanentJobError``: the job ends FAIL at once. Any other
  exception: retried with backoff until ``max_attempts``, then FAIL. The
  error text is kept in ``last_error``.
- **Duration.** The worker renews the lease every ``lease_time / 3`` while the
  handler runs, so handlers may be long; a handler that hangs keeps its job
  until the process dies, then another worker takes it over after the lease.
- The ``Job`` passed in is detached from any session: read it, don't change it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Generic

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs.errors import PermanentJobError
from tricircle_lb.jobs.metrics import JobMetrics
from tricircle_lb.jobs.models import JobStatus
from tricircle_lb.jobs.queue import J, JobQueue

LOG = logging.getLogger(__name__)


class Worker(Generic[J]):
    """Runs the jobs of ``handlers``' types from ``queue`` in a daemon thread.

    Several workers (threads or processes) may share one database: a job is
    claimed by one of them at a time.
    """

    def __init__(self, db: Database, queue: JobQueue[J],
                 handlers: Mapping[str, Callable[[J], None]], *,
                 metrics: JobMetrics | None = None, name: str = "jobs-worker") -> None:
        self.db = db
        self.queue = queue
        self.config = queue.config
        self.handlers = dict(handlers)
        self.metrics = metrics
        self.name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        queue.subscribe(self.wake)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to stop after the current job; True if it has stopped."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if not stopped:
            LOG.warning("%s still running a job after %ss", self.name, timeout)
        return stopped

    def wake(self) -> None:
        """Look for jobs now instead of at the next poll."""
        self._wake.set()

    def run_once(self) -> bool:
        """Claim and run one due job; False if there was none."""
        job = self.queue.claim(self.db, self.handlers.keys())
        if job is None:
            return False
        self._run(job)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                LOG.exception("%s: cannot claim jobs; retrying", self.name)
                ran = False
            if not ran:
                self._wake.wait(self.config.poll_interval)
                self._wake.clear()

    def _run(self, job: J) -> None:
        LOG.info("running job %s (%s, resource %s, attempt %d/%d)", job.id, job.type,
                 job.resource_id, job.attempts, job.max_attempts)
        renewer = _LeaseRenewer(self.db, self.queue, job)
        renewer.start()
        started = time.monotonic()
        error: Exception | None = None
        try:
            self.handlers[job.type](job)
        except Exception as exc:
            error = exc
        finally:
            seconds = time.monotonic() - started
            renewer.stop()
        outcome = self._record(job, error)
        if self.metrics is not None:
            self.metrics.observe(job.type, outcome, seconds)

    def _record(self, job: J, error: Exception | None) -> str:
        if error is None:
            held = self.queue.complete(self.db, job)
            outcome = "success"
        else:
            text = f"{type(error).__name__}: {error}"
            if isinstance(error, PermanentJobError):
                LOG.error("job %s (%s) failed permanently: %s", job.id, job.type, text)
                held = self.queue.fail(self.db, job, text)
            else:
                LOG.warning("job %s (%s) attempt %d failed: %s", job.id, job.type,
                            job.attempts, text, exc_info=error)
                held = self.queue.retry_later(self.db, job, text)
            outcome = "fail" if job.status == JobStatus.FAIL.value else "retry"
        if not held:
            LOG.warning("job %s: lease lost before recording %s; another worker owns it",
                        job.id, outcome)
            return "lost"
        return outcome


class _LeaseRenewer:
    """Renews a job's lease every third of ``lease_time`` until stopped."""

    def __init__(self, db: Database, queue: JobQueue[J], job: J) -> None:
        self._stop = threading.Event()
        interval = queue.config.lease_time / 3

        def renew() -> None:
            while not self._stop.wait(interval):
                try:
                    if not queue.renew(db, job):
                        LOG.warning("job %s: lease lost while its handler runs", job.id)
                        return
                except Exception:
                    LOG.exception("job %s: cannot renew the lease", job.id)

        self._thread = threading.Thread(target=renew, name=f"lease-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
