"""The systems the load-balancer service drives: networking, compute, amphorae."""
