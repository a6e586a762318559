"""The change feed and cancel requests behind live views and ``flowy runs cancel``.

Revision ID: 0004_run_changes
Revises: 0003_metric_nan
Create Date: 2026-12-07

* ``run_changes``: one row per change to a run or step (created, step started,
  step recorded, finished, crashed, asked to cancel), written in the same
  transaction as the change, with a growing ``seq`` a reader follows
  (``MetadataStore.changes_since``). AUTOINCREMENT on SQLite, so a ``seq`` is
  never reused after the newest rows go with their runs.
* ``run_cancel_requests``: the runs someone asked to cancel, by whom and when.

Existing runs get no rows: the feed starts with this revision.
Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_run_changes"
down_revision = "0003_metric_nan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_run_changes"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_run_changes_run_id_seq", "run_changes", ["run_id", "seq"])
    op.create_table(
        "run_cancel_requests",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_cancel_requests"),
    )


def downgrade() -> None:
    op.drop_table("run_cancel_requests")
    op.drop_index("ix_run_changes_run_id_seq", table_name="run_changes")
    op.drop_table("run_changes")
