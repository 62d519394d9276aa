"""The small service schema the PostgreSQL tests use: widgets and their jobs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tricircle_lb.jobs import JobMixin


class PgServiceBase(DeclarativeBase):
    pass


class Job(JobMixin, PgServiceBase):
    pass


class Widget(PgServiceBase):
    __tablename__ = "widgets"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
