"""create_job_table builds exactly the table JobMixin maps."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from jobs_testing import Job, ServiceBase

from tricircle_lb.db.engine import Database
from tricircle_lb.db.migrate import upgrade
from tricircle_lb.jobs import JobQueue

MIGRATIONS = Path(__file__).parent / "migrations"


def test_migration_matches_the_model(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, MIGRATIONS)
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection),
                                    ServiceBase.metadata)
            indexes = {i["name"]: i for i in sa.inspect(connection).get_indexes("jobs")}
        assert diff == []
        assert indexes["uq_jobs_dedup_key_new"]["unique"]
        queue = JobQueue(Job)
        with db.write() as session:
            queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
            queue.enqueue(session, "t", {}, resource_id=None, project_id=None, dedup_key="k")
        assert queue.claim(db) is not None
    finally:
        db.dispose()


def test_partial_unique_index_allows_one_new_job_per_key(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, MIGRATIONS)
        with db.engine.begin() as connection:
            rows = [{"id": f"j{i}", "status": status} for i, status in
                    enumerate(["SUCCESS", "FAIL", "RUNNING", "NEW"])]
            for row in rows:
                connection.execute(sa.text(
                    "INSERT INTO jobs (id, type, status, payload, dedup_key, attempts, "
                    "max_attempts, run_after, created_at, updated_at) VALUES (:id, 't', "
                    ":status, '{}', 'k', 0, 1, '2024-01-01', '2024-01-01', '2024-01-01')"), row)
        with db.engine.begin() as connection:
            try:
                connection.execute(sa.text(
                    "INSERT INTO jobs (id, type, status, payload, dedup_key, attempts, "
                    "max_attempts, run_after, created_at, updated_at) VALUES ('dup', 't', "
                    "'NEW', '{}', 'k', 0, 1, '2024-01-01', '2024-01-01', '2024-01-01')"))
            except sa.exc.IntegrityError:
                pass
            else:
                raise AssertionError("a second NEW job with the same dedup_key was accepted")
    finally:
        db.dispose()
