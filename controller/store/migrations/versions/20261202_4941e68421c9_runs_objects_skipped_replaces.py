"""Runs: the objects of the plate a run prints (a replacement copy prints only the ones another run dropped),
the objects it dropped while printing, and the run it remakes.

Revision ID: 4941e68421c9
Revises: e8a3a14f591e
Create Date: 2026-12-02 05:19:42.670606
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4941e68421c9'
down_revision: str | Sequence[str] | None = 'e8a3a14f591e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_runs_replaces_runs"


def upgrade() -> None:
    """Add runs.objects and runs.skipped (existing runs: the whole plate, nothing dropped) and runs.replaces."""
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('objects', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('skipped', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('replaces', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(_FK, 'runs', ['replaces'], ['id'])


def downgrade() -> None:
    """Drop the three columns again."""
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint(_FK, type_='foreignkey')
        batch_op.drop_column('replaces')
        batch_op.drop_column('skipped')
        batch_op.drop_column('objects')
