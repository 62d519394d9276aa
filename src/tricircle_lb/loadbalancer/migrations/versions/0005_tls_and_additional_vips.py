"""TLS termination and re-encryption fields, additional VIPs (Octavia's API names);
availability zone profiles and zones;
a listener's port is unique per protocol (UDP and TCP may share one), as in Octavia

Existing listeners and pools get Octavia's "no TLS" values (NULL refs, no SNI,
client_authentication NONE, HSTS off, tls_enabled false); existing load
balancers have no additional VIPs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTENER = ('default_tls_container_ref', 'sni_container_refs', 'client_authentication',
             'client_ca_tls_container_ref', 'client_crl_container_ref', 'tls_versions',
             'tls_ciphers', 'alpn_protocols', 'hsts_max_age', 'hsts_include_subdomains',
             'hsts_preload')
_POOL = ('tls_enabled', 'tls_container_ref', 'ca_tls_container_ref', 'crl_container_ref',
         'tls_versions', 'tls_ciphers', 'alpn_protocols')


def upgrade() -> None:
    op.create_table('availability_zone_profiles',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('provider_name', sa.String(length=255), nullable=False),
    sa.Column('availability_zone_data', sa.String(length=4096), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('availability_zones',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('availability_zone_profile_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['availability_zone_profile_id'],
                            ['availability_zone_profiles.id']),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('availability_zones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_zones_availability_zone_profile_id'),
                              ['availability_zone_profile_id'], unique=False)
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('additional_vips', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    with op.batch_alter_table('listeners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_tls_container_ref', sa.String(255),
                                      nullable=True))
        batch_op.add_column(sa.Column('sni_container_refs', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('client_authentication', sa.String(16), nullable=False,
                                      server_default='NONE'))
        batch_op.add_column(sa.Column('client_ca_tls_container_ref', sa.String(255),
                                      nullable=True))
        batch_op.add_column(sa.Column('client_crl_container_ref', sa.String(255),
                                      nullable=True))
        batch_op.add_column(sa.Column('tls_versions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('tls_ciphers', sa.String(2048), nullable=True))
        batch_op.add_column(sa.Column('alpn_protocols', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('hsts_max_age', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('hsts_include_subdomains', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('hsts_preload', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_constraint('uniq_listeners_lb_port', type_='unique')
        batch_op.create_unique_constraint('uniq_listeners_lb_protocol_port',
                                          ['loadbalancer_id', 'protocol', 'protocol_port'])
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tls_enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('tls_container_ref', sa.String(255), nullable=True))
        batch_op.add_column(sa.Column('ca_tls_container_ref', sa.String(255), nullable=True))
        batch_op.add_column(sa.Column('crl_container_ref', sa.String(255), nullable=True))
        batch_op.add_column(sa.Column('tls_versions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('tls_ciphers', sa.String(2048), nullable=True))
        batch_op.add_column(sa.Column('alpn_protocols', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pools', schema=None) as batch_op:
        for name in reversed(_POOL):
            batch_op.drop_column(name)
    with op.batch_alter_table('listeners', schema=None) as batch_op:
        batch_op.drop_constraint('uniq_listeners_lb_protocol_port', type_='unique')
        batch_op.create_unique_constraint('uniq_listeners_lb_port',
                                          ['loadbalancer_id', 'protocol_port'])
        for name in reversed(_LISTENER):
            batch_op.drop_column(name)
    with op.batch_alter_table('load_balancers', schema=None) as batch_op:
        batch_op.drop_column('additional_vips')
    with op.batch_alter_table('availability_zones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_zones_availability_zone_profile_id'))
    op.drop_table('availability_zones')
    op.drop_table('availability_zone_profiles')
