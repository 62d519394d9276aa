"""initial load-balancer schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:22:20.068077
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tricircle_lb.jobs import create_job_table, drop_job_table

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_job_table(op)
    op.create_table('load_balancers',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('vip_address', sa.String(length=64), nullable=True),
    sa.Column('vip_port_id', sa.String(length=36), nullable=True),
    sa.Column('vip_subnet_id', sa.String(length=36), nullable=True),
    sa.Column('vip_network_id', sa.String(length=36), nullable=True),
    sa.Column('vip_qos_policy_id', sa.String(length=36), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('flavor_id', sa.String(length=36), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('topology', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_load_balancers_project_id'), ['project_id'], unique=False)

    op.create_table('quotas',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('loadbalancer', sa.Integer(), nullable=True),
    sa.Column('listener', sa.Integer(), nullable=True),
    sa.Column('pool', sa.Integer(), nullable=True),
    sa.Column('healthmonitor', sa.Integer(), nullable=True),
    sa.Column('member', sa.Integer(), nullable=True),
    sa.Column('l7policy', sa.Integer(), nullable=True),
    sa.Column('l7rule', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_table('amphorae',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=True),
    sa.Column('compute_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('lb_network_ip', sa.String(length=64), nullable=True),
    sa.Column('vrrp_ip', sa.String(length=64), nullable=True),
    sa.Column('ha_ip', sa.String(length=64), nullable=True),
    sa.Column('vrrp_port_id', sa.String(length=36), nullable=True),
    sa.Column('ha_port_id', sa.String(length=36), nullable=True),
    sa.Column('mgmt_port_id', sa.String(length=36), nullable=True),
    sa.Column('vrrp_interface', sa.String(length=16), nullable=True),
    sa.Column('vrrp_id', sa.Integer(), nullable=True),
    sa.Column('vrrp_priority', sa.Integer(), nullable=True),
    sa.Column('compute_flavor', sa.String(length=255), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('cached_zone', sa.String(length=255), nullable=True),
    sa.Column('cert_expiration', sa.DateTime(), nullable=True),
    sa.Column('cert_busy', sa.Boolean(), nullable=False),
    sa.Column('plugged_networks', sa.JSON(), nullable=False),
    sa.Column('last_heartbeat', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('amphorae', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amphorae_loadbalancer_id'), ['loadbalancer_id'], unique=False)

    op.create_table('pools',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('lb_algorithm', sa.String(length=32), nullable=False),
    sa.Column('session_persistence', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pools_loadbalancer_id'), ['loadbalancer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pools_project_id'), ['project_id'], unique=False)

    op.create_table('health_monitors',
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('delay', sa.Integer(), nullable=False),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('max_retries_down', sa.Integer(), nullable=False),
    sa.Column('http_method', sa.String(length=16), nullable=True),
    sa.Column('url_path', sa.String(length=2048), nullable=True),
    sa.Column('expected_codes', sa.String(length=64), nullable=True),
    sa.Column('http_version', sa.Double(), nullable=True),
    sa.Column('domain_name', sa.String(length=255), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id')
    )
    with op.batch_alter_table('health_monitors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_monitors_project_id'), ['project_id'], unique=False)

    op.create_table('listeners',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('protocol', sa.String(length=16), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('connection_limit', sa.Integer(), nullable=False),
    sa.Column('default_pool_id', sa.String(length=36), nullable=True),
    sa.Column('timeout_client_data', sa.Integer(), nullable=False),
    sa.Column('timeout_member_connect', sa.Integer(), nullable=False),
    sa.Column('timeout_member_data', sa.Integer(), nullable=False),
    sa.Column('timeout_tcp_inspect', sa.Integer(), nullable=False),
    sa.Column('insert_headers', sa.JSON(), nullable=False),
    sa.Column('allowed_cidrs', sa.JSON(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['default_pool_id'], ['pools.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['load_balancers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loadbalancer_id', 'protocol_port', name='uniq_listeners_lb_port')
    )
    with op.batch_alter_table('listeners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listeners_default_pool_id'), ['default_pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listeners_loadbalancer_id'), ['loadbalancer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listeners_project_id'), ['project_id'], unique=False)

    op.create_table('members',
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('backup', sa.Boolean(), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=True),
    sa.Column('monitor_address', sa.String(length=64), nullable=True),
    sa.Column('monitor_port', sa.Integer(), nullable=True),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'address', 'protocol_port', name='uniq_members_pool_address_port')
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_pool_id'), ['pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_project_id'), ['project_id'], unique=False)

    op.create_table('l7policies',
    sa.Column('listener_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('redirect_pool_id', sa.String(length=36), nullable=True),
    sa.Column('redirect_url', sa.String(length=2048), nullable=True),
    sa.Column('redirect_prefix', sa.String(length=2048), nullable=True),
    sa.Column('redirect_http_code', sa.Integer(), nullable=True),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['listener_id'], ['listeners.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redirect_pool_id'], ['pools.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('l7policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_l7policies_listener_id'), ['listener_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7policies_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7policies_redirect_pool_id'), ['redirect_pool_id'], unique=False)

    op.create_table('listener_statistics',
    sa.Column('listener_id', sa.String(length=36), nullable=False),
    sa.Column('amphora_id', sa.String(length=36), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('active_connections', sa.BigInteger(), nullable=False),
    sa.Column('total_connections', sa.BigInteger(), nullable=False),
    sa.Column('request_errors', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['listener_id'], ['listeners.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('listener_id', 'amphora_id')
    )
    op.create_table('l7rules',
    sa.Column('l7policy_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('compare_type', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('invert', sa.Boolean(), nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['l7policy_id'], ['l7policies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('l7rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_l7rules_l7policy_id'), ['l7policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_l7rules_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('l7rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_l7rules_project_id'))
        batch_op.drop_index(batch_op.f('ix_l7rules_l7policy_id'))

    op.drop_table('l7rules')
    op.drop_table('listener_statistics')
    with op.batch_alter_table('l7policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_l7policies_redirect_pool_id'))
        batch_op.drop_index(batch_op.f('ix_l7policies_project_id'))
        batch_op.drop_index(batch_op.f('ix_l7policies_listener_id'))

    op.drop_table('l7policies')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_project_id'))
        batch_op.drop_index(batch_op.f('ix_members_pool_id'))

    op.drop_table('members')
    with op.batch_alter_table('listeners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listeners_project_id'))
        batch_op.drop_index(batch_op.f('ix_listeners_loadbalancer_id'))
        batch_op.drop_index(batch_op.f('ix_listeners_default_pool_id'))

    op.drop_table('listeners')
    with op.batch_alter_table('health_monitors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_monitors_project_id'))

    op.drop_table('health_monitors')
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pools_project_id'))
        batch_op.drop_index(batch_op.f('ix_pools_loadbalancer_id'))

    op.drop_table('pools')
    with op.batch_alter_table('amphorae', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amphorae_loadbalancer_id'))

    op.drop_table('amphorae')
    op.drop_table('quotas')
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_load_balancers_project_id'))

    op.drop_table('load_balancers')
    drop_job_table(op)
