"""A tiny service schema for the jobs tests: jobs plus the effects handlers leave."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tricircle_lb.db.engine import Database
from tricircle_lb.jobs import JobMixin


class ServiceBase(DeclarativeBase):
    pass


class Job(JobMixin, ServiceBase):
    pass


class Effect(ServiceBase):
    """What a handler did, keyed by job id so a rerun cannot do it twice."""

    __tablename__ = "effects"

    job_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    runs: Mapped[int] = mapped_column(sa.Integer, default=1)


def make_db(url: str) -> Database:
    db = Database(url)
    ServiceBase.metadata.create_all(db.engine)
    return db


def record_effect(session: Session, job_id: str) -> bool:
    """INSERT-if-absent: True if this call created the effect."""
    if session.get(Effect, job_id) is not None:
        return False
    session.add(Effect(job_id=job_id, runs=1))
    return True


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
