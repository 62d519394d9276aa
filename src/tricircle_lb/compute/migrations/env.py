"""Alembic environment of the compute database (driven by tricircle_lb.db.migrate)."""

from typing import cast

from alembic import context
from alembic.runtime.environment import EnvironmentContext

from tricircle_lb.compute.models import ComputeBase
from tricircle_lb.db.migrate import run_env

run_env(cast(EnvironmentContext, context), ComputeBase.metadata)
