"""Alembic environment of identity's database (driven by tricircle_lb.db.migrate)."""

from typing import cast

from alembic import context
from alembic.runtime.environment import EnvironmentContext

from tricircle_lb.db.migrate import run_env
from tricircle_lb.identity.models import IdentityBase

run_env(cast(EnvironmentContext, context), IdentityBase.metadata)
