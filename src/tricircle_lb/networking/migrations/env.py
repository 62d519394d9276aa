"""Alembic environment of the networking database (driven by tricircle_lb.db.migrate)."""

from typing import cast

from alembic import context
from alembic.runtime.environment import EnvironmentContext

from tricircle_lb.db.migrate import run_env
from tricircle_lb.networking.models import NetBase

run_env(cast(EnvironmentContext, context), NetBase.metadata)
