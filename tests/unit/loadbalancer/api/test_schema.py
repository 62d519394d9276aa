"""The migrations build exactly the schema the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tricircle_lb.db import Database
from tricircle_lb.db.migrate import upgrade
from tricircle_lb.loadbalancer.app import MIGRATIONS
from tricircle_lb.loadbalancer.models import LbBase


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'lb.db'}")
    try:
        upgrade(db, MIGRATIONS)
        upgrade(db, MIGRATIONS)  # a second run is a no-op
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection),
                                    LbBase.metadata) == []
    finally:
        db.dispose()
