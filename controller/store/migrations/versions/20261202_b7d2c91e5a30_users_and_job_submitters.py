"""Accounts: users (role, Argon2 password hash, SHA-256 of the API key), the user who submitted each job, and
who or what caused each event (events.actor; events from before say `unknown`), and every attempt to send a
notification, and the printers out of rotation.

Revision ID: b7d2c91e5a30
Revises: 4941e68421c9
Create Date: 2026-12-02 12:37:24.632148
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7d2c91e5a30'
down_revision: str | Sequence[str] | None = '4941e68421c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the users, job_submitters, notification_attempts and out_of_rotation tables (existing jobs keep no
    submitter) and events.actor."""
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('job_submitters',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('job_id')
    )
    with op.batch_alter_table('job_submitters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_submitters_user'), ['user'], unique=False)
    op.create_table('notification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('t', sa.Float(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('out_of_rotation',
    sa.Column('printer', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('since', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('printer')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor', sa.String(length=128), server_default='unknown', nullable=False))
        batch_op.create_index(batch_op.f('ix_events_actor'), ['actor'], unique=False)



def downgrade() -> None:
    """Drop events.actor and the two tables."""
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_actor'))
        batch_op.drop_column('actor')
    with op.batch_alter_table('job_submitters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_submitters_user'))

    op.drop_table('out_of_rotation')
    op.drop_table('notification_attempts')
    op.drop_table('job_submitters')
    op.drop_table('users')
