"""Errors of the jobs package::

    JobError
    ├── PermanentJobError   raised by a handler: the job fails at once, no retry
    ├── JobNotFound         (also common.errors.NotFound, 404) admin API: no such job
    └── JobConflict         (also common.errors.Conflict, 409) admin API: wrong status

Any other exception a handler raises is transient: the job is retried with
backoff until ``max_attempts``.
"""

from __future__ import annotations

from tricircle_lb.common.errors import Conflict, NotFound


class JobError(Exception):
    """Root of the errors of the jobs package."""


class PermanentJobError(JobError):
    """Raised by a handler when retrying cannot help (bad payload, refused by a peer)."""


class JobNotFound(JobError, NotFound):
    """No job with this id."""


class JobConflict(JobError, Conflict):
    """The job is in a status that does not allow the operation."""
