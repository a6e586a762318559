"""The live output of running steps (``flowy ui``'s logs panel while a step runs).

Revision ID: 0006_step_output
Revises: 0005_run_search
Create Date: 2026-12-07

* ``step_output``: what a running step printed so far, one row per batch the
  engine forwards (``MetadataStore.append_step_output``), read in ``seq`` order;
  the step's record deletes its rows. AUTOINCREMENT on SQLite, as
  ``run_changes``.

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_step_output"
down_revision = "0005_run_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_output",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_step_output"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_step_output_run_id_step_seq", "step_output", ["run_id", "step", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_step_output_run_id_step_seq", table_name="step_output")
    op.drop_table("step_output")
