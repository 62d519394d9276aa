"""Nothing stays ``PENDING_*`` once no job will finish it.

Every change hands its load balancer to a job in the transaction that makes
it ``PENDING_*``, and a flow that gives up marks it ERROR (``flows.py``). But
a job can also end without its handler having the last word: its lease ran
out on every attempt (the service kept dying mid-flow), its attempts ran out
inside a flow that never gives up by itself (delete), a database was restored.
The sweeper catches all of them the same way: a load balancer pending for
longer than a grace period with no NEW or RUNNING job for it or one of its
amphorae goes to ERROR, with every pending child, so the user can retry or
delete it (Octavia's operators do this by hand; here nobody has to).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from tricircle_lb.db import Database
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
        live = set(session.scalars(sa.select(Job.resource_id).where(
            Job.status.in_((JobStatus.NEW.value, JobStatus.RUNNING.value)))))
        for lb in pending:
            amphorae = set(session.scalars(sa.select(Amphora.id).where(
                Amphora.loadbalancer_id == lb.id)))
            if lb.id in live or amphorae & live:
                continue
            LOG.error("load balancer %s was %s with no job left to finish it: ERROR",
                      lb.id, lb.provisioning_status)
            statuses.mark_error(lb)
            swept.append(lb.id)
    return swept
