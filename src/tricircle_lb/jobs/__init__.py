"""Durable jobs in a table of the service's own database (docs/decisions/030).

Wiring, in a service::

    class Job(JobMixin, Base): ...                 # models; migration: create_job_table(op)
    queue = JobQueue(Job, JobsConfig.from_parser(parser))
    with db.write() as session:                    # same transaction as the change
        ...; queue.enqueue(session, "network_delete", {...}, resource_id=..., project_id=...)
    worker = Worker(db, queue, {"network_delete": handle_network_delete},
                    metrics=JobMetrics(registry, db, queue))
    worker.start(); ...; worker.stop(timeout=10)
"""

from tricircle_lb.jobs.config import JobsConfig
from tricircle_lb.jobs.errors import JobConflict, JobError, JobNotFound, PermanentJobError
from tricircle_lb.jobs.metrics import JobMetrics, JobQueueCollector
from tricircle_lb.jobs.models import JobMixin, JobStatus, create_job_table, drop_job_table
from tricircle_lb.jobs.queue import JobQueue
from tricircle_lb.jobs.worker import Worker

__all__ = [
    "JobConflict",
    "JobError",
    "JobMetrics",
    "JobMixin",
    "JobNotFound",
    "JobQueue",
    "JobQueueCollector",
    "JobStatus",
    "JobsConfig",
    "PermanentJobError",
    "Worker",
    "create_job_table",
    "drop_job_table",
]
