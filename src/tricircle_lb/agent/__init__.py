"""The host agent: realises a host's share of the region's networks and instances.

``main.run(config_file)`` is the process; :class:`Agent` the loop (driven by
a :class:`RegionApi`, a :class:`~tricircle_lb.dataplane.Dataplane` and an
:class:`InstanceRuntime`, each replaceable by a fake in tests).
"""

from tricircle_lb.agent.api import ApiUnavailable, HttpRegionApi, RegionApi
from tricircle_lb.agent.config import AgentConfig
from tricircle_lb.agent.desired import DesiredState, NetworkSpec, PortPlug, build
from tricircle_lb.agent.reconcile import Reconciler, ReconcileResult
from tricircle_lb.agent.runtime_api import InstanceRuntime
from tricircle_lb.agent.service import Agent

__all__ = [
    "Agent",
    "AgentConfig",
    "ApiUnavailable",
    "DesiredState",
    "HttpRegionApi",
    "InstanceRuntime",
    "NetworkSpec",
    "PortPlug",
    "ReconcileResult",
    "Reconciler",
    "RegionApi",
    "build",
]
