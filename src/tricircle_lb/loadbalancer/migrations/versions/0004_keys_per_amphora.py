"""a key per amphora, a VRRP password per load balancer

Existing rows keep NULL: their amphorae were booted with the deployment's
heartbeat key and their pairs run the password derived from it, which stay in
use until a failover gives them new ones (decision 076).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('amphorae', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_key', sa.String(64), nullable=True))
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vrrp_auth_pass', sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.drop_column('vrrp_auth_pass')
    with op.batch_alter_table('amphorae', schema=None) as batch_op:
        batch_op.drop_column('agent_key')
