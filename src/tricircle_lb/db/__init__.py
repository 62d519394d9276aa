"""Database engine, sessions and migrations shared by every service."""

from tricircle_lb.db.engine import Base, Database

__all__ = ["Base", "Database"]
