"""Neutron's LBaaS v2 extension in a region's local networking, handed to the region's Octavia.

The spec's path "tenant → local neutron API → neutron-LBaaS → local Octavia":
``/v2.0/lbaas/…`` takes Neutron's bodies and errors, and every call goes to
the load-balancer service of the same region (catalog type
``load-balancer``) with the caller's token, as neutron-lbaas's proxy to
Octavia did. Modules: ``resources`` (each resource's Neutron attributes),
``translate`` (bodies both ways), ``client`` (Octavia calls and faults),
``routes`` (the API).
"""

from tricircle_lb.networking.lbaas.client import LoadBalancerServiceError, OctaviaClient
from tricircle_lb.networking.lbaas.routes import build_router

# As /v2.0/extensions lists it: alias, name, description.
EXTENSION = ("lbaasv2", "LoadBalancing service v2", "Extension for LoadBalancing service v2")

__all__ = ["EXTENSION", "LoadBalancerServiceError", "OctaviaClient", "build_router"]
