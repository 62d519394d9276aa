"""Unit-suite fixtures: fresh SQLite databases get their schema from a template.

Every in-process API test builds several services, each migrating a new SQLite
database with Alembic (about 70 ms a service). Migrating one database per
migration directory and copying it with SQLite's backup API gives the same schema,
``alembic_version`` row included, in a fraction of that. A database that is not
empty (a migration test's older revision) and PostgreSQL still run Alembic.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tricircle_lb.db import Database, migrate

_real_upgrade = migrate.upgrade
_templates: dict[str, sqlite3.Connection] = {}  # migrations directory → migrated copy


@contextlib.contextmanager
def _sqlite(db: Database) -> Iterator[sqlite3.Connection]:
    raw = db.engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert isinstance(connection, sqlite3.Connection)
        yield connection
    finally:
        raw.close()


def _templated_upgrade(db: Database, script_location: Path) -> None:
    if db.engine.dialect.name != "sqlite" or sa.inspect(db.engine).get_table_names():
        _real_upgrade(db, script_location)
        return
    template = _templates.get(str(script_location))
    if template is None:
        _real_upgrade(db, script_location)
        template = sqlite3.connect(":memory:", check_same_thread=False)
        with _sqlite(db) as source:
            source.backup(template)
        _templates[str(script_location)] = template
        return
    with _sqlite(db) as target:
        template.backup(target)


@pytest.fixture(scope="session", autouse=True)
def _migrate_from_templates() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migrate, "upgrade", _templated_upgrade)
        yield
