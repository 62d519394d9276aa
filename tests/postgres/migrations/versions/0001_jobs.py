"""A small service schema: its widgets and its jobs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from tricircle_lb.jobs import create_job_table, drop_job_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_job_table(op)
    op.create_table(
        "widgets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("widgets")
    drop_job_table(op)
