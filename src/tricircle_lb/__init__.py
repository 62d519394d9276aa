"""Tricircle LB: multi-region load-balancing-as-a-service.

One central networking service, and per region a local networking service,
compute and an Octavia-compatible load-balancer service, all speaking the
OpenStack APIs their clients already know.
"""

__version__ = "0.1.0"
