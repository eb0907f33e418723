"""A farm of hosts on one database: the host that drives each printer (existing printers: none yet, adopted by
the next host to start), the hosts and their heartbeats, and commands sent to a printer through another host.

Revision ID: 87e591b5460c
Revises: b7d2c91e5a30
Create Date: 2026-12-02 12:32:40.873967
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '87e591b5460c'
down_revision: str | Sequence[str] | None = 'b7d2c91e5a30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add printers.host and the hosts and commands tables; every existing row is kept as it is."""
    op.create_table('commands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=64), nullable=False),
    sa.Column('printer', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('sent_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('done_at', sa.Float(), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commands_host'), ['host'], unique=False)

    op.create_table('hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=512), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('last_heartbeat', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_printers_host'), ['host'], unique=False)


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_printers_host'))
        batch_op.drop_column('host')

    op.drop_table('hosts')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commands_host'))

    op.drop_table('commands')