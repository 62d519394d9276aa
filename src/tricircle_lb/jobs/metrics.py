"""Prometheus metrics of a service's jobs, on the registry the service passes in.

- ``tricircle_jobs{status}``: jobs per status, counted on scrape.
- ``tricircle_jobs_oldest_new_age_seconds``: age of the oldest NEW job (0 if none).
- ``tricircle_job_duration_seconds{type}``: handler run time.
- ``tricircle_job_runs_total{type,outcome}``: outcome is success, retry, fail or lost
  (the claim was taken over before the worker could record the result).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs.models import JobStatus
from tricircle_lb.jobs.queue import JobQueue

LOG = logging.getLogger(__name__)
_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class JobQueueCollector(Collector):
    """Queue depth per status and age of the oldest NEW job, read from the table."""

    def __init__(self, db: Database, queue: JobQueue[Any]) -> None:
        self.db = db
        self.queue = queue

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self.queue.model
        try:
            with self.db.read() as session:
                rows = session.execute(
                    sa.select(m.status, sa.func.count()).group_by(m.status)).all()
                oldest = session.scalar(
                    sa.select(sa.func.min(m.created_at)).where(m.status == JobStatus.NEW.value))
        except Exception:
            LOG.exception("cannot read the jobs table for metrics")
            return
        counts = {status: int(count) for status, count in rows}
        depth, age = self._families()
        for status in JobStatus:
            depth.add_metric([status.value], counts.get(status.value, 0))
        age_seconds = (self.queue.clock() - oldest).total_seconds() if oldest else 0.0
        age.add_metric([], max(age_seconds, 0.0))
        yield depth
        yield age

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("tricircle_jobs", "Jobs per status.", labels=["status"]),
            GaugeMetricFamily("tricircle_jobs_oldest_new_age_seconds",
                              "Age of the oldest NEW job in seconds (0 if none)."),
        )


class JobMetrics:
    """All job metrics of one service; create once, share between its workers."""

    def __init__(self, registry: CollectorRegistry, db: Database, queue: JobQueue[Any]) -> None:
        self.duration = Histogram("tricircle_job_duration_seconds",
                                  "Run time of job handlers.", ["type"],
                                  buckets=_BUCKETS, registry=registry)
        self.runs = Counter("tricircle_job_runs", "Job runs by outcome.",
                            ["type", "outcome"], registry=registry)
        self.collector = JobQueueCollector(db, queue)
        registry.register(self.collector)

    def observe(self, job_type: str, outcome: str, seconds: float) -> None:
        self.duration.labels(job_type).observe(seconds)
        self.runs.labels(job_type, outcome).inc()
