"""The compute service's application: Nova (``/v2.1``) and Glance (``/image``) on one port.

Catalog entries to register for a region (the deployment tool does):
``compute`` → ``http://host:port/v2.1`` and ``image`` → ``http://host:port/image``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from tricircle_lb.common import logs
from tricircle_lb.common.app import create_app as create_base_app
from tricircle_lb.common.auth import RemoteTokenValidator
from tricircle_lb.common.config import AuthConfig, ServerConfig, read
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.compute import errors
from tricircle_lb.compute.api import flavors, images, misc, quota_sets, servers, versions
from tricircle_lb.compute.config import ComputeConfig
from tricircle_lb.compute.interfaces import Interfaces
from tricircle_lb.compute.microversions import MicroversionMiddleware
from tricircle_lb.compute.network_client import NetworkClient
from tricircle_lb.compute.servers import ComputeService
from tricircle_lb.db import Database, migrate

LOG = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# Tests call ``app.state.compute.sweep()`` themselves.
START_SWEEPER = True


class Sweeper:
    """Runs :meth:`ComputeService.sweep` every ``interval`` seconds in a thread."""

    def __init__(self, service: ComputeService, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compute-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.sweep()
            except Exception:
                LOG.exception("compute sweep failed; retrying")


def create_app(config_file: Path) -> FastAPI:
    parser = read(config_file)
    server = ServerConfig.from_parser(parser)
    auth = AuthConfig.from_parser(parser)
    cfg = ComputeConfig.from_parser(parser)
    name = f"compute-{cfg.region_name}"
    logs.setup(name, server.log_file, server.log_level)

    db = Database(server.database_url)
    migrate.upgrade(db, MIGRATIONS)
    session = ServiceSession(auth)
    validator = RemoteTokenValidator(session, auth.token_cache_time)
    net = NetworkClient(session, cfg.region_name)
    service = ComputeService(db, cfg, net)
    sweeper = Sweeper(service, cfg.sweep_interval)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if START_SWEEPER:
            sweeper.start()
        yield
        sweeper.stop()
        db.dispose()

    app = create_base_app(name, f"Tricircle LB compute ({cfg.region_name})", validator,
                          lifespan)
    app.add_middleware(MicroversionMiddleware)
    errors.install_handlers(app)
    app.state.db = db
    app.state.config = cfg
    app.state.region = cfg.region_name
    app.state.compute = service
    app.state.interfaces = Interfaces(db, net, service.builder)

    app.include_router(versions.build_router())
    app.include_router(servers.build_router())
    app.include_router(flavors.build_router())
    app.include_router(images.build_router())
    app.include_router(misc.build_router())
    app.include_router(quota_sets.build_router())
    return app
