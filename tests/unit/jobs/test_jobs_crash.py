"""kill -9 a worker mid-job: another worker completes the job exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from jobs_testing import Effect, Job, record_effect

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs import JobQueue, JobsConfig, Worker

HERE = Path(__file__).parent


def test_job_survives_kill_9_of_its_worker(tmp_path: Path, db_url: str, db: Database) -> None:
    config = JobsConfig(poll_interval=0.05, lease_time=2.0)
    queue = JobQueue(Job, config)
    with db.write() as session:
        job_id = queue.enqueue(session, "mirror_delete", {"network_id": "net-1"},
                               resource_id="net-1", project_id="p1").id

    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]))
    child = subprocess.Popen([sys.executable, str(HERE / "crash_worker.py"), db_url,
                              str(marker)], env=env)
    try:
        deadline = time.monotonic() + 20
        while not marker.exists():
            assert child.poll() is None, "crash worker exited early"
            assert time.monotonic() < deadline, "crash worker never ran the job"
            time.sleep(0.05)
        assert marker.read_text() == job_id
        time.sleep(1.0)  # let its lease renewer run at least once
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    runs: list[bool] = []

    def handler(job: Job) -> None:
        with db.write() as session:
            runs.append(record_effect(session, job.id))

    worker = Worker(db, queue, {"mirror_delete": handler})
    assert not worker.run_once()  # the dead worker's lease still holds it
    deadline = time.monotonic() + 10
    while not worker.run_once():
        assert time.monotonic() < deadline, "the expired lease was never taken over"
        time.sleep(0.1)

    assert runs == [False]  # the rerun found the effect and did not repeat it
    with db.read() as session:
        job = queue.get(session, job_id)
        effects = list(session.scalars(sa.select(Effect)))
    assert (job.status, job.attempts) == ("SUCCESS", 2)
    assert [(e.job_id, e.runs) for e in effects] == [(job_id, 1)]
