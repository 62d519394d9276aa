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
        stuck = _stuck().where(LoadBalancer.updated_at <= utcnow() - grace)
        for lb in list(session.scalars(stuck)):  # read whole before marking any
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
        lb = session.scalar(_stuck().where(LoadBalancer.id == str(lb_id))) if lb_id else None
        if lb is None:
            return None
        LOG.error("load balancer %s: job %s (%s) failed (%s): %s → ERROR", lb.id, job.id,
                  job.type, job.last_error, lb.provisioning_status)
        statuses.mark_error(lb)
        return lb.id


def watch(queue: JobQueue[Any], db: Database) -> None:
    """Have every job of ``queue`` that ends FAIL put its load balancer in ERROR."""
    queue.on_failure(lambda job: job_failed(db, job))


def _stuck() -> sa.Select[LoadBalancer]:
    """Load balancers pending with no NEW or RUNNING job on them or one of their
    amphorae: one query, however many there are."""
    live = Job.status.in_((JobStatus.NEW.value, JobStatus.RUNNING.value))
    own_job = sa.exists().where(live, Job.resource_id == LoadBalancer.id)
    amphora_job = sa.exists().where(live, Job.resource_id == Amphora.id,
                                    Amphora.loadbalancer_id == LoadBalancer.id)
    return sa.select(LoadBalancer).where(
        LoadBalancer.provisioning_status.in_(statuses.PENDING), ~own_job, ~amphora_job)
