"""The networking service's application: one code base, central or local by configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from tricircle_lb.common import logs
from tricircle_lb.common.app import create_app as create_base_app
from tricircle_lb.common.auth import RemoteTokenValidator
from tricircle_lb.common.config import AuthConfig, ServerConfig, read
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.db import Database, migrate
from tricircle_lb.jobs import JobMetrics, JobQueue, JobsConfig, Worker
from tricircle_lb.networking import errors, lbaas
from tricircle_lb.networking.api import meta, resources, tricircle
from tricircle_lb.networking.central import CentralPlugin
from tricircle_lb.networking.central.mirrors import SHADOW_JOB, SYNC_JOB, MirrorSync
from tricircle_lb.networking.config import NetworkingConfig
from tricircle_lb.networking.local import LocalPlugin
from tricircle_lb.networking.local.agents import Agents
from tricircle_lb.networking.local.central_client import CentralClient
from tricircle_lb.networking.local.quotas_proxy import CentralQuotas
from tricircle_lb.networking.models import Job
from tricircle_lb.networking.quotas import Quotas

MIGRATIONS = Path(__file__).parent / "migrations"
# Tests drive the job worker by hand (``app.state.workers[0].run_once()``).
START_WORKERS = True


def create_app(config_file: Path) -> FastAPI:
    parser = read(config_file)
    server = ServerConfig.from_parser(parser)
    auth = AuthConfig.from_parser(parser)
    cfg = NetworkingConfig.from_parser(parser)
    jobs_cfg = JobsConfig.from_parser(parser)
    name = "central" if cfg.role == "central" else f"networking-{cfg.region_name}"
    logs.setup(name, server.log_file, server.log_level)

    db = Database(server.database_url)
    migrate.upgrade(db, MIGRATIONS)
    session = ServiceSession(auth)
    validator = RemoteTokenValidator(session, auth.token_cache_time)
    queue: JobQueue[Job] = JobQueue(Job, jobs_cfg)
    workers: list[Worker[Job]] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if START_WORKERS:
            for worker in workers:
                worker.start()
        yield
        for worker in workers:
            worker.stop(timeout=10)
        db.dispose()

    app = create_base_app(name, f"Tricircle LB networking ({cfg.region_name})", validator,
                          lifespan)
    errors.install_handlers(app)
    app.state.db = db
    app.state.queue = queue
    app.state.config = cfg
    app.state.extra_extensions = []
    app.state.workers = workers

    if cfg.role == "central":
        mirrors = MirrorSync(db, queue, session)
        app.state.plugin = CentralPlugin(db, cfg, mirrors)
        app.state.quotas = Quotas(db, cfg.default_quotas)
        workers.append(Worker(db, queue, {SYNC_JOB: mirrors.run, SHADOW_JOB: mirrors.run_shadows},
                              metrics=JobMetrics(app.state.metrics.registry, db, queue)))
        app.include_router(tricircle.central_router())
    else:
        central = CentralClient(session, cfg.central_region_name, cfg.region_name)
        agents = Agents(db, cfg.region_name, cfg.availability_zone)
        app.state.agents = agents
        app.state.plugin = LocalPlugin(db, cfg, central, agents)
        app.state.quotas = CentralQuotas(central)
        app.include_router(tricircle.local_router())
        app.include_router(tricircle.agents_router())
        # Neutron's LBaaS v2 extension, handed to the region's load-balancer service.
        app.state.lbaas = lbaas.OctaviaClient(session, cfg.region_name)
        app.state.extra_extensions = [meta.extension(*lbaas.EXTENSION)]
        app.include_router(lbaas.build_router())

    app.include_router(meta.build_router())
    app.include_router(resources.build_router())
    return app
