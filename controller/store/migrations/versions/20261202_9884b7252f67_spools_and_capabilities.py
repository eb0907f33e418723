"""Spools and what printers can make: the spools table; printers' nozzle, materials, tags, bed and loaded spool;
jobs' requirements, filament per copy and why printers passed them by; the spool each run printed from and the
grams it used. Existing rows: no requirements, no spool, nothing used.

Revision ID: 9884b7252f67
Revises: 87e591b5460c
Create Date: 2026-12-02 14:31:11.932295
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '9884b7252f67'
down_revision: str | Sequence[str] | None = '87e591b5460c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the spools table and the new columns."""
    op.create_table('spools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material', sa.String(length=32), nullable=False),
    sa.Column('brand', sa.String(length=64), nullable=False),
    sa.Column('colour', sa.String(length=32), nullable=False),
    sa.Column('diameter', sa.Float(), nullable=False),
    sa.Column('density', sa.Float(), nullable=False),
    sa.Column('lot', sa.String(length=64), nullable=False),
    sa.Column('initial_g', sa.Float(), nullable=False),
    sa.Column('remaining_g', sa.Float(), nullable=False),
    sa.Column('cost_per_kg', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('needs', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('waiting', sa.JSON(), server_default='{}', nullable=False))

    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nozzle', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('materials', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('tags', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('bed', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('spool_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spool_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('used_g', sa.Float(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_runs_spool_id'), ['spool_id'], unique=False)



def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_spool_id'))
        batch_op.drop_column('used_g')
        batch_op.drop_column('spool_id')

    with op.batch_alter_table('printers', schema=None) as batch_op:
        batch_op.drop_column('spool_id')
        batch_op.drop_column('bed')
        batch_op.drop_column('tags')
        batch_op.drop_column('materials')
        batch_op.drop_column('nozzle')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('waiting')
        batch_op.drop_column('needs')
        batch_op.drop_column('requires')

    op.drop_table('spools')
