from alembic import context
from sqlalchemy import MetaData

from tricircle_lb.db.migrate import run_env

run_env(context, MetaData())
