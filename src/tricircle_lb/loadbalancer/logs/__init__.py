"""Log offloading: amphorae send their logs over the management network (Octavia's
``admin_log_targets`` / ``tenant_log_targets``) and the region keeps them, per load
balancer, under its state directory."""
