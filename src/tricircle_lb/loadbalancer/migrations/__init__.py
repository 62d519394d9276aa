"""Alembic migrations of the load-balancer database (run by tricircle_lb.db.migrate)."""
