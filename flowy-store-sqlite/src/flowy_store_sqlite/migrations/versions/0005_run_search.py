"""Indexes for the runs list's filters, sorts and keyset pages (``search_runs``).

Revision ID: 0005_run_search
Revises: 0004_run_changes
Create Date: 2026-12-07

* ``runs (started_at, run_id)``: the default order and its tie-breaker, so a
  page after a cursor is one index range, at any depth;
* ``metrics (run_id, name, id)``: a run's last value of a metric is one seek
  (the filter ``metrics.<name>``, and "is this row its run's last?");
* ``metrics (name, value)``: sorted by a metric, a page walks that metric's
  values in order instead of computing every run's;
* ``params (name, run_id)``: the parameter names offered as columns, read by
  index seeks instead of a scan.

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

from alembic import op

revision = "0005_run_search"
down_revision = "0004_run_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_started_at_run_id", "runs", ["started_at", "run_id"])
    op.create_index("ix_metrics_run_id_name_id", "metrics", ["run_id", "name", "id"])
    op.create_index("ix_metrics_name_value", "metrics", ["name", "value"])
    op.create_index("ix_params_name_run_id", "params", ["name", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_params_name_run_id", table_name="params")
    op.drop_index("ix_metrics_name_value", table_name="metrics")
    op.drop_index("ix_metrics_run_id_name_id", table_name="metrics")
    op.drop_index("ix_runs_started_at_run_id", table_name="runs")
