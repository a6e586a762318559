"""Step tags (``flowy ui`` groups a run's DAG by them).

Revision ID: 0007_step_tags
Revises: 0006_step_output
Create Date: 2026-12-07

* ``step_runs.tags``: the step's ``@step(tags=[...])``, a JSON list, sorted and
  unique. Rows recorded before this revision get ``'[]'`` (the server default).

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_step_tags"
down_revision = "0006_step_output"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("tags")
