"""The identity service's FastAPI application (what ``serve identity`` runs)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tricircle_lb.common import app as common_app
from tricircle_lb.common import config as common_config
from tricircle_lb.common import logs
from tricircle_lb.db import migrate
from tricircle_lb.db.engine import Database
from tricircle_lb.identity.api import (
    assignments,
    auth,
    domains,
    projects,
    regions,
    roles,
    services,
    users,
    versions,
)
from tricircle_lb.identity.api.common import IdentityState
from tricircle_lb.identity.bootstrap import bootstrap
from tricircle_lb.identity.config import IdentityConfig
from tricircle_lb.identity.errors import install as install_errors
from tricircle_lb.identity.tokens import LocalTokenValidator, TokenService

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(config_file: Path) -> FastAPI:
    """Read ``config_file``, migrate and bootstrap the database, and build the app."""
    parser = common_config.read(config_file)
    server = common_config.ServerConfig.from_parser(parser)
    config = IdentityConfig.from_parser(parser)
    logs.setup("identity", server.log_file, server.log_level)
    db = Database(server.database_url)
    migrate.upgrade(db, MIGRATIONS)
    bootstrap(db, config)
    return build_app(db, config)


def build_app(db: Database, config: IdentityConfig) -> FastAPI:
    """The application over a migrated, bootstrapped database."""
    tokens = TokenService(db, config.token_expiration)
    app = common_app.create_app("identity", "Tricircle LB identity (Keystone v3)",
                                LocalTokenValidator(tokens))
    app.state.identity = IdentityState(db=db, tokens=tokens, config=config)
    install_errors(app)
    for module in (versions, auth, domains, projects, users, roles, assignments,
                   regions, services):
        app.include_router(module.router)
    return app
