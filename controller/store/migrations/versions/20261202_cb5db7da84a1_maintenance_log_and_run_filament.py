"""Maintenance: the log of services done on each printer (task, note, by whom, when) and the filament each ended
copy pushed (worked out once from its job plan; copies from before are worked out when first counted).

Revision ID: cb5db7da84a1
Revises: 9884b7252f67
Create Date: 2026-12-02 14:31:54.198143
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'cb5db7da84a1'
down_revision: str | Sequence[str] | None = '9884b7252f67'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the maintenance_log and run_filament tables."""
    op.create_table('maintenance_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('printer', sa.String(length=64), nullable=False),
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('t', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('maintenance_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_log_printer'), ['printer'], unique=False)

    op.create_table('run_filament',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('filament_mm', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id')
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table('run_filament')
    with op.batch_alter_table('maintenance_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_log_printer'))

    op.drop_table('maintenance_log')
