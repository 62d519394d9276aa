"""Run one service in this process: ``tricircle-lb serve identity|networking``.

The service's ``create_app(config_file)`` builds its FastAPI app (and sets
up its JSON log file); uvicorn serves it on ``[DEFAULT] bind_host``/``port``
of the same file. uvicorn's own logging is not configured here: its records
go to the service's JSON log, and the access log stays off because the
common request middleware already logs every request with its request id.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

import uvicorn
from fastapi import FastAPI

from tricircle_lb.common import config as common_config
from tricircle_lb.common import logs
from tricircle_lb.deploy.services import Kind

APP_MODULES = {
    Kind.IDENTITY: "tricircle_lb.identity.app",
    Kind.NETWORKING: "tricircle_lb.networking.app",
    Kind.COMPUTE: "tricircle_lb.compute.app",
    Kind.LOADBALANCER: "tricircle_lb.loadbalancer.app",
}


# uvicorn closes idle keep-alive connections after 5 s by default: exactly the poll
# period of novaclient's --poll, whose next request then races the close and fails
# with "connection reset". Clients pool connections; close only long-idle ones.
KEEP_ALIVE_SECONDS = 75


def app_factory(kind: Kind) -> Callable[[Path], FastAPI]:
    module = importlib.import_module(APP_MODULES[kind])
    return cast(Callable[[Path], FastAPI], module.create_app)


def serve(kind: Kind, config_file: Path) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn shuts down gracefully on either)."""
    if kind is Kind.AGENT:
        from tricircle_lb.agent.main import run

        raise SystemExit(run(config_file))
    if kind is Kind.KEY_MANAGER:
        from tricircle_lb.deploy.key_manager import exec_barbican

        exec_barbican(config_file)
    parser = common_config.read(config_file)
    server = common_config.ServerConfig.from_parser(parser)
    # A default for records emitted before the app sets up its own log.
    logs.setup(kind.value, server.log_file, server.log_level)
    app = app_factory(kind)(config_file)
    uvicorn.run(
        app,
        host=server.bind_host,
        port=server.port,
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
