"""Metric values may be NULL: a NULL value is a NaN.

Revision ID: 0003_metric_nan
Revises: 0002_assets_registry
Create Date: 2026-12-07

SQLite has no NaN: it binds ``float("nan")`` as NULL, which the NOT NULL
``metrics.value`` refused, so a run that logged a NaN loss failed. Every store
now writes a NaN as NULL and reads NULL back as NaN (on every database, so
SQL sees the same rows everywhere); ±inf are stored as they are.

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_metric_nan"
down_revision = "0002_assets_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("value", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    # A NaN has no NOT NULL form: those rows go, as they could not have been written before.
    op.execute("DELETE FROM metrics WHERE value IS NULL")
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("value", existing_type=sa.Float(), nullable=False)
