"""Build records: the sealed, hash-chained record of every printed copy, and operators' dispositions (accepted or
rejected, with a reason) of copies.

Revision ID: 334f32722664
Revises: cb5db7da84a1
Create Date: 2026-12-02 14:34:49.116829
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '334f32722664'
down_revision: str | Sequence[str] | None = 'cb5db7da84a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the build_records and dispositions tables (empty; existing rows are untouched)."""
    op.create_table('build_records',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('sealed_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('hash'),
    sa.UniqueConstraint('prev_hash'),
    sa.UniqueConstraint('run_id', 'version')
    )
    with op.batch_alter_table('build_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_build_records_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_build_records_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_build_records_serial'), ['serial'], unique=False)

    op.create_table('dispositions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('t', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dispositions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispositions_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table('dispositions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispositions_run_id'))

    op.drop_table('dispositions')
    with op.batch_alter_table('build_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_build_records_serial'))
        batch_op.drop_index(batch_op.f('ix_build_records_run_id'))
        batch_op.drop_index(batch_op.f('ix_build_records_job_id'))

    op.drop_table('build_records')
