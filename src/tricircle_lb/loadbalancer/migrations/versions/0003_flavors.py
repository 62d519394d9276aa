"""flavors and flavor profiles

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('flavor_profiles',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('provider_name', sa.String(length=255), nullable=False),
    sa.Column('flavor_data', sa.String(length=4096), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('flavors',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('flavor_profile_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['flavor_profile_id'], ['flavor_profiles.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uniq_flavors_name')
    )
    with op.batch_alter_table('flavors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flavors_flavor_profile_id'), ['flavor_profile_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flavors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flavors_flavor_profile_id'))

    op.drop_table('flavors')
    op.drop_table('flavor_profiles')
