"""per-project compute quotas

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 12:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'quotas',
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('resource', sa.String(length=64), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'resource'),
    )


def downgrade() -> None:
    op.drop_table('quotas')
