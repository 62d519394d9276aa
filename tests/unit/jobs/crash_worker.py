"""Run by test_jobs_crash.py in a subprocess: a worker whose handler hangs.

Usage: crash_worker.py DB_URL MARKER_FILE. The handler records its effect
(INSERT-if-absent keyed by job id), writes MARKER_FILE, then sleeps until the
test kills this process with SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from jobs_testing import Job, make_db, record_effect

from tricircle_lb.jobs import JobQueue, JobsConfig, Worker


def main(db_url: str, marker: Path) -> None:
    db = make_db(db_url)
    queue = JobQueue(Job, JobsConfig(poll_interval=0.05, lease_time=2.0))

    def handler(job: Job) -> None:
        with db.write() as session:
            record_effect(session, job.id)
        marker.write_text(job.id)
        time.sleep(3600)

    Worker(db, queue, {"mirror_delete": handler}).run_once()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
