"""Nothing stays ``PENDING_*`` once no job will finish it.

Every change hands its load balancer to a job in the transaction that makes
it ``PENDING_*``, and a flow that gives up marks it ERROR (``flows.py``). But
a job can also end without its handler having the last word: its lease ran
out on every attempt (the service kept dying mid-flow), its attempts ran out
inside a flow that never gives up by itself (delete), a database was restored.
Two nets catch all of them the same way: a load balancer pending with no NEW
or RUNNING job for it or one of its amphorae goes to ERROR, with every pending
child, so the user can retry or delete it (Octavia's operators do this by hand;
here nobody has to).

- :func:`job_failed`, told by the job queue the moment any job of this service
  ends FAIL, whatever the cause (``JobQueue.on_failure``): a permanent error,
  the last attempt, a lease that expired on every attempt.
- :func:`sweep`, every 15 s, for what no job failure announces: a load balancer
  pending for longer than a grace period whose job is gone (a database
  restored, a job deleted by hand, a failure told to a process that died
  before it could act).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tricircle_lb.db import Database
from tricircle_lb.jobs import JobQueue
from tricircle_lb.jobs.models import JobStatus
from tricircle_lb.loadbalancer.controller import statuses
from tricircle_lb.loadbalancer.models import Amphora, Job, LoadBalancer, utcnow

LOG = logging.getLogger(__name__)

GRACE = timedelta(seconds=10)  # a pending load balancer younger than this is left alone


def sweep(db: Database, grace: timedelta = GRACE) -> list[str]:
    """Mark ERROR every load balancer pending with no job left for it; their ids."""
    swept: list[str] = []
    with db.write() as session:
        pending = list(session.scalars(sa.select(LoadBalancer).where(
            LoadBalancer.provisioning_status.in_(statuses.PENDING),
            LoadBalancer.updated_at <= utcnow() - grace)))
        if not pending:
            return swept
        live = _live_resources(session)
        for lb in pending:
            if _has_job(session, lb, live):
                continue
            LOG.error("load balancer %s was %s with no job left to finish it: ERROR",
                      lb.id, lb.provisioning_status)
            statuses.mark_error(lb)
            swept.append(lb.id)
    return swept


def job_failed(db: Database, job: Job) -> str | None:
    """``job`` ended FAIL: its load balancer, if still pending with no other job to
    finish it, goes to ERROR now; its id if so."""
    payload: dict[str, Any] = dict(job.payload or {})
    with db.write() as session:
        lb_id = payload.get("loadbalancer_id")
        if lb_id is None and payload.get("amphora_id"):
            amp = session.get(Amphora, str(payload["amphora_id"]))
            lb_id = amp.loadbalancer_id if amp is not None else None
        lb = session.get(LoadBalancer, str(lb_id)) if lb_id else None
        if lb is None or lb.provisioning_status not in statuses.PENDING:
            return None
        if _has_job(session, lb, _live_resources(session)):
            return None
        LOG.error("load balancer %s: job %s (%s) failed (%s): %s → ERROR", lb.id, job.id,
                  job.type, job.last_error, lb.provisioning_status)
        statuses.mark_error(lb)
        return lb.id


def watch(queue: JobQueue[Any], db: Database) -> None:
    """Have every job of ``queue`` that ends FAIL put its load balancer in ERROR."""
    queue.on_failure(lambda job: job_failed(db, job))


def _live_resources(session: Session) -> set[str | None]:
    return set(session.scalars(sa.select(Job.resource_id).where(
        Job.status.in_((JobStatus.NEW.value, JobStatus.RUNNING.value)))))


def _has_job(session: Session, lb: LoadBalancer, live: set[str | None]) -> bool:
    """Whether a NEW or RUNNING job works on ``lb`` or one of its amphorae."""
    amphorae: set[str | None] = set(session.scalars(sa.select(Amphora.id).where(
        Amphora.loadbalancer_id == lb.id)))
    return lb.id in live or bool(amphorae & live)
