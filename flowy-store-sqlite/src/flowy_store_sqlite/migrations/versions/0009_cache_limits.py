"""Cache limits: a ttl and a size budget per pipeline (``flowy cache limits``).

Revision ID: 0009_cache_limits
Revises: 0008_operations
Create Date: 2026-12-08

* ``cache_entries``: ``size`` (bytes of the entry's outputs) and ``last_used_at``
  (its newest hit, else its creation), what least-recently-used eviction reads;
  NULL in rows from before (read as 0 bytes, used when created).
* ``cache_limits``: one row per pipeline with limits (``""``: every pipeline).

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_cache_limits"
down_revision = "0008_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cache_entries") as batch:
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.Float(), nullable=True))
    op.create_table(
        "cache_limits",
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("ttl", sa.Float(), nullable=True),
        sa.Column("max_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("pipeline", name="pk_cache_limits"),
    )


def downgrade() -> None:
    op.drop_table("cache_limits")
    with op.batch_alter_table("cache_entries") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("size")
