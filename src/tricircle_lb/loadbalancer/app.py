"""A region's load-balancer service: Octavia's v2 API, its controller and health manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from tricircle_lb.common import logs
from tricircle_lb.common.app import create_app as create_base_app
from tricircle_lb.common.auth import RemoteTokenValidator
from tricircle_lb.common.config import AuthConfig, ServerConfig, read
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.db import Database, migrate
from tricircle_lb.jobs import JobQueue, JobsConfig
from tricircle_lb.loadbalancer import background, errors
from tricircle_lb.loadbalancer.api import build_router
from tricircle_lb.loadbalancer.certificates import CertificateManager
from tricircle_lb.loadbalancer.config import HealthManagerConfig, LoadBalancerConfig
from tricircle_lb.loadbalancer.drivers.network import NeutronNetworkDriver
from tricircle_lb.loadbalancer.logs.config import LogOffloadConfig
from tricircle_lb.loadbalancer.models import Job

MIGRATIONS = Path(__file__).parent / "migrations"
# Tests drive the controller by hand instead of the background workers.
START_WORKERS = True


def create_app(config_file: Path) -> FastAPI:
    parser = read(config_file)
    server = ServerConfig.from_parser(parser)
    auth = AuthConfig.from_parser(parser)
    cfg = LoadBalancerConfig.from_parser(parser)
    hm_cfg = HealthManagerConfig.from_parser(parser)
    jobs_cfg = JobsConfig.from_parser(parser)
    name = f"loadbalancer-{cfg.region_name}"
    logs.setup(name, server.log_file, server.log_level)

    db = Database(server.database_url)
    migrate.upgrade(db, MIGRATIONS)
    session = ServiceSession(auth)
    validator = RemoteTokenValidator(session, auth.token_cache_time)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = background.start(app.state) if START_WORKERS else None
        try:
            yield
        finally:
            if stop is not None:
                stop()
            db.dispose()

    app = create_base_app(name, f"Tricircle LB load balancing ({cfg.region_name})", validator,
                          lifespan)
    errors.install_handlers(app)
    app.state.db = db
    app.state.queue = JobQueue(Job, jobs_cfg)
    app.state.config = cfg
    app.state.hm_config = hm_cfg
    app.state.log_config = LogOffloadConfig.from_parser(parser, server.log_file)
    app.state.session = session
    app.state.network = NeutronNetworkDriver(session, cfg.region_name, cfg.central_region_name)
    # Tenants' TLS certificate references, checked by the API (api/_tls_checks.py).
    app.state.certificates = CertificateManager.from_config(parser, session)
    app.include_router(build_router())
    app.add_middleware(_V2Alias)
    return app


class _V2Alias:
    """Octavia answers under ``/v2.0/…`` as under ``/v2/…`` (python-octaviaclient uses
    ``/v2.0``): rewrite the prefix once here instead of mounting every route twice."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/v2.0/") and len(path) > 6:
            scope = dict(scope, path="/v2/" + path[6:],
                         raw_path=("/v2/" + path[6:]).encode())
        await self.app(scope, receive, send)
