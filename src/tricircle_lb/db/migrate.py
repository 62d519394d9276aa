"""Alembic migrations, run programmatically at service start.

Each service keeps its own migration scripts (``<service>/migrations``) for
its own database; this module is the one place that drives Alembic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import MetaData

from tricircle_lb.db.engine import Database


def upgrade(db: Database, script_location: Path) -> None:
    """Bring ``db`` to the newest revision of the scripts in ``script_location``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def run_env(context: EnvironmentContext, metadata: MetaData) -> None:
    """The body of every service's ``env.py``: online migrations on the given connection."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
