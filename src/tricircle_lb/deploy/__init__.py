"""The embedded launcher: topology, service configuration, supervisor, bootstrap.

``tricircle-lb up`` reads a :class:`~tricircle_lb.deploy.topology.Topology`,
writes each service's configuration (:mod:`~tricircle_lb.deploy.services`),
and runs the :class:`~tricircle_lb.deploy.supervisor.Supervisor`, which starts
the services in order and creates what an operator would create by hand
(:mod:`~tricircle_lb.deploy.bootstrap`). :mod:`~tricircle_lb.deploy.launcher`
holds the logic behind each CLI command.
"""

from tricircle_lb.deploy.topology import RegionSpec, Topology, TopologyError, load

__all__ = ["RegionSpec", "Topology", "TopologyError", "load"]
