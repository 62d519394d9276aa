"""The jobs table: a mixin for the host service's model and its migration.

Each service keeps its jobs in its own database, on its own declarative base::

    class Job(JobMixin, Base):          # Base: the service's Base subclass
        pass                            # table "jobs"; set __tablename__ to rename

and creates the table in one of its migrations with ``create_job_table(op)``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class JobStatus(StrEnum):
    NEW = "NEW"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


def utcnow() -> datetime:
    """The default clock: naive UTC, as stored in both SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


_NEW_ONLY = "status = 'NEW'"


def _index_specs(table_name: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(name, columns, options) of every index, shared by the model and the migration."""
    new_only = sa.text(_NEW_ONLY)
    return [
        (f"ix_{table_name}_status_run_after", ["status", "run_after"], {}),
        (f"ix_{table_name}_resource_id", ["resource_id"], {}),
        # At most one pending (NEW) job per dedup_key: enqueue collapses into it.
        (f"uq_{table_name}_dedup_key_new", ["dedup_key"],
         {"unique": True, "sqlite_where": new_only, "postgresql_where": new_only}),
    ]


class JobMixin:
    """Columns of a durable job (Tricircle's job fields plus lease and retry state).

    ``attempts`` counts claims (a run that crashed the worker counts too) and
    fences updates: a worker may only finish the claim it holds.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default=JobStatus.NEW.value)
    resource_id: Mapped[str | None] = mapped_column(sa.String(255))
    project_id: Mapped[str | None] = mapped_column(sa.String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    dedup_key: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    run_after: Mapped[datetime] = mapped_column(sa.DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return tuple(sa.Index(name, *columns, **options)
                     for name, columns, options in _index_specs(cls.__tablename__))

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.type} {self.status} attempts={self.attempts}>"


def create_job_table(op: Any, table_name: str = "jobs") -> None:
    """Create the jobs table from a service's Alembic migration (``op``: alembic.op).

    Schema version 1, frozen: a later change to the columns gets its own helper
    for a new migration, so old migrations keep creating what they created.
    """
    op.create_table(
        table_name,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("run_after", sa.DateTime, nullable=False),
        sa.Column("lease_until", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    for name, columns, options in _index_specs(table_name):
        op.create_index(name, table_name, columns, **options)


def drop_job_table(op: Any, table_name: str = "jobs") -> None:
    """The downgrade of ``create_job_table``."""
    for name, _columns, _options in reversed(_index_specs(table_name)):
        op.drop_index(name, table_name=table_name)
    op.drop_table(table_name)
