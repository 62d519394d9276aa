"""A fresh PostgreSQL database per test session, from TRICIRCLE_LB_TEST_POSTGRES_URL.

The URL names a server and a database the role may connect to (the role needs
CREATEDB), e.g. ``postgresql+psycopg://tricircle:secret@127.0.0.1:5432/tricircle_test``.
The session creates ``tricircle_test_<random>`` beside it and drops it at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pg_jobs_testing import PgServiceBase

from tricircle_lb.db.engine import Database

URL_VARIABLE = "TRICIRCLE_LB_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = os.environ.get(URL_VARIABLE)
    if not base:
        pytest.skip(f"{URL_VARIABLE} is not set: these tests need a PostgreSQL server "
                    f"(e.g. postgresql+psycopg://user:password@127.0.0.1:5432/postgres, "
                    f"role with CREATEDB)")
    url = sa.make_url(base)
    name = f"tricircle_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    """An empty schema for each test (tables are created by the test or its fixture)."""
    db = Database(postgres_url)
    _drop_all(db)
    yield db
    _drop_all(db)
    db.dispose()


@pytest.fixture
def pg_db(pg: Database) -> Database:
    PgServiceBase.metadata.create_all(pg.engine)
    return pg


def _drop_all(db: Database) -> None:
    PgServiceBase.metadata.drop_all(db.engine)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
