"""``tricircle-lb serve agent --config-file agent.ini``: one agent process per host.

SIGTERM/SIGINT stop the loop; the data plane stays (the kernel keeps
forwarding while the agent is down). ``tricircle-lb down`` removes it with
:func:`tricircle_lb.dataplane.teardown_all`.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import cast

from tricircle_lb.agent.api import HttpRegionApi
from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.agent.metrics import AgentMetrics
from tricircle_lb.agent.runtime_api import InstanceRuntime
from tricircle_lb.agent.service import Agent
from tricircle_lb.common import logs
from tricircle_lb.common.config import AuthConfig, ConfigError, ServerConfig, read
from tricircle_lb.common.http import ServiceSession
from tricircle_lb.dataplane.netlink import NetlinkDataplane
from tricircle_lb.dataplane.packet_filter import NftPacketFilter

LOG = logging.getLogger(__name__)


def make_runtime(config: AgentConfig) -> InstanceRuntime | None:
    """``tricircle_lb.agent.instances.NamespaceRuntime`` (None if not installed)."""
    try:
        module = importlib.import_module("tricircle_lb.agent.instances")
    except ImportError:
        LOG.warning("no instance runtime (tricircle_lb.agent.instances): instances are skipped")
        return None
    factory = module.NamespaceRuntime
    return cast(InstanceRuntime, factory(state_dir=config.state_dir, host=config.host,
                                         prefix=config.namespace_prefix))


def run(config_file: Path) -> int:
    try:
        parser = read(config_file)
        server = ServerConfig.from_parser(parser)
        auth = AuthConfig.from_parser(parser)
        config = AgentConfig.from_parser(parser)
    except ConfigError as exc:
        logging.basicConfig()
        LOG.error("%s", exc)
        return 2
    logs.setup(f"agent-{config.host}", server.log_file, server.log_level)
    (config.state_dir / "instances").mkdir(parents=True, exist_ok=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        LOG.info("signal %d: stopping (data plane stays)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    session = ServiceSession(auth)
    metrics = AgentMetrics()
    if config.metrics_port >= 0:
        # Embedded hosts share 127.0.0.1: each agent takes a free port (0) and says
        # which in <state_dir>/run/agent-<host>.metrics, where `status` finds it.
        port = metrics.serve(config.metrics_port)
        run_dir = config.state_dir / "run"
        if run_dir.is_dir():
            (run_dir / f"agent-{config.host}.metrics").write_text(f"{port}\n")
        LOG.info("metrics on http://127.0.0.1:%d/metrics", port)
    dataplane = NetlinkDataplane()
    try:
        agent = Agent(config, HttpRegionApi(session, config.region_name), dataplane,
                      runtime=make_runtime(config), metrics=metrics,
                      packet_filter=NftPacketFilter())
        agent.run(stop)
    finally:
        dataplane.close()
        metrics.stop()
        session.client.close()
    return 0
