"""Prometheus metrics of one agent (``[agent] metrics_port``, 127.0.0.1 only)."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class AgentMetrics:
    """A private registry per agent, so several agents (and tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_seconds = Histogram(
            "tricircle_agent_reconcile_seconds", "Duration of one reconcile (read + apply)",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.reconcile_failures = Counter(
            "tricircle_agent_reconcile_failures", "Reconciles that could not complete",
            registry=self.registry)
        self.ports = Gauge("tricircle_agent_ports", "Ports plugged on this host",
                           registry=self.registry)
        self.networks = Gauge("tricircle_agent_networks", "Networks with a bridge on this host",
                              registry=self.registry)
        self.fdb_entries = Gauge("tricircle_agent_fdb_entries",
                                 "Static VXLAN forwarding entries (remote MACs and flood)",
                                 registry=self.registry)
        self.neighbour_entries = Gauge("tricircle_agent_neighbour_entries",
                                       "Proxy ARP/ND entries on VXLAN devices",
                                       registry=self.registry)
        self.instances = Gauge("tricircle_agent_instances", "Instances placed on this host",
                               registry=self.registry)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def serve(self, port: int) -> int:
        """Expose ``/metrics`` on 127.0.0.1:``port`` (0: any free port) in a daemon
        thread; returns the port."""
        self._server, self._thread = start_http_server(port, addr="127.0.0.1",
                                                       registry=self.registry)
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
