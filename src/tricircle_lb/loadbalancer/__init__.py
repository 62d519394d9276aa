"""The load-balancer service (Octavia v2 API per region) and its amphora driver."""
