"""Alembic environment of the load-balancer database (driven by tricircle_lb.db.migrate)."""

from typing import cast

from alembic import context
from alembic.runtime.environment import EnvironmentContext

from tricircle_lb.db.migrate import run_env
from tricircle_lb.loadbalancer.models import LbBase

run_env(cast(EnvironmentContext, context), LbBase.metadata)
