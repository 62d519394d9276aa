"""``python -m tricircle_lb.loadbalancer.amphora.agent --config <ini> --state-dir <dir>``.

Runs inside the amphora: adopts (or restarts) HAProxy and keepalived, sends
heartbeats and serves the API until SIGTERM or SIGINT. HAProxy and keepalived
keep running when the agent exits; the next agent adopts them.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import signal
import threading
from pathlib import Path
from types import FrameType

from tricircle_lb.common import logs
from tricircle_lb.common.config import ConfigError
from tricircle_lb.loadbalancer.amphora.agent import interfaces
from tricircle_lb.loadbalancer.amphora.agent.config import AmphoraAgentConfig
from tricircle_lb.loadbalancer.amphora.agent.haproxy import HAProxy
from tricircle_lb.loadbalancer.amphora.agent.heartbeats import HeartbeatLoop
from tricircle_lb.loadbalancer.amphora.agent.keepalived import Keepalived
from tricircle_lb.loadbalancer.amphora.agent.server import AmphoraApi, make_server
from tricircle_lb.loadbalancer.amphora.agent.udp import UdpProxy
from tricircle_lb.loadbalancer.amphora.agent.udp_stats import UdpStats
from tricircle_lb.loadbalancer.amphora.log_config import LogTargets

LOG = logging.getLogger(__name__)


def offload_logs(targets: tuple[tuple[str, int], ...]) -> None:
    """Send this agent's own logs to the region's receivers too (syslog over UDP,
    facility local1, as Octavia's administrative logs): a lost datagram never
    blocks the agent."""
    for host, port in targets:
        handler = logging.handlers.SysLogHandler(
            (host, port), facility=logging.handlers.SysLogHandler.LOG_LOCAL1)
        handler.setFormatter(logging.Formatter("amphora-agent: %(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amphora-agent", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--log-file", type=Path)
    args = parser.parse_args(argv)
    logs.setup("amphora-agent", args.log_file)
    try:
        config = AmphoraAgentConfig.read(args.config)
    except ConfigError as exc:
        LOG.error("bad configuration: %s", exc)
        return 2
    offload_logs(config.admin_log_targets)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    haproxy = HAProxy(config.haproxy_binary, args.state_dir, config.open_files_limit,
                      LogTargets(config.admin_log_targets, config.tenant_log_targets))
    keepalived = Keepalived(config.keepalived_binary, args.state_dir, haproxy)
    if keepalived.configured:
        interfaces.allow_nonlocal_bind()  # a BACKUP's HAProxy binds the peer's VIP
    udp = UdpProxy(config.nginx_binary, args.state_dir, stats=UdpStats())
    haproxy.resume()
    keepalived.resume()
    udp.resume()
    heartbeats = HeartbeatLoop(config.amphora_id, config.key, config.controller_ip_port_list,
                               str(haproxy.stats_socket), config.heartbeat_interval,
                               udp.report)
    server = make_server(AmphoraApi(config, haproxy, keepalived, udp), config.bind_address,
                         config.agent_port)

    def stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: stopping (HAProxy and keepalived keep running)", signum)
        # shutdown() waits for serve_forever(), which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    heartbeats.start()
    LOG.info("amphora agent %s listening on port %d", config.amphora_id, server.port)
    try:
        server.serve_forever()
    finally:
        heartbeats.stop()
        server.server_close()
    return 0
