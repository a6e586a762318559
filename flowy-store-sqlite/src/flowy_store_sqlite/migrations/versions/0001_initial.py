"""Create the whole Flowy metadata schema.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01

Written out in full rather than derived from ``schema.metadata``: a revision
is history and must not change when the current schema does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("stack", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("git", sa.Text(), nullable=False),
        sa.Column("environment", sa.Text(), nullable=False),
        sa.Column("experiment", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_index("ix_runs_pipeline_started_at", "runs", ["pipeline", "started_at"])

    op.create_table(
        "step_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(255), nullable=True),
        sa.Column("code_hash", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(255), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_step_runs_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_step_runs"),
    )
    op.create_index("ix_step_runs_run_id", "step_runs", ["run_id"])

    op.create_table(
        "artifacts",
        sa.Column("artifact_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("materializer", sa.String(255), nullable=False),
        sa.Column("materializer_version", sa.String(32), nullable=False),
        sa.Column("checksum", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_artifacts_run_id_runs"),
        sa.PrimaryKeyConstraint("artifact_id", name="pk_artifacts"),
    )
    op.create_index("ix_artifacts_run_id", "artifacts", ["run_id"])
    op.create_index("ix_artifacts_name_created_at", "artifacts", ["name", "created_at"])
    op.create_index("ix_artifacts_created_at", "artifacts", ["created_at"])

    op.create_table(
        "lineage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("artifact_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.artifact_id"], name="fk_lineage_artifact_id_artifacts"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_lineage_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_lineage"),
    )
    op.create_index("ix_lineage_artifact_id", "lineage", ["artifact_id"])
    op.create_index("ix_lineage_run_id_step", "lineage", ["run_id", "step"])

    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=True),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_metrics_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
    )
    op.create_index("ix_metrics_run_id", "metrics", ["run_id"])

    op.create_table(
        "params",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_params_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_params"),
    )

    op.create_table(
        "cache_entries",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("components", sa.Text(), nullable=False),
        sa.Column("outputs", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cache_entries"),
    )
    op.create_index(
        "ix_cache_entries_pipeline_step_created_at",
        "cache_entries",
        ["pipeline", "step", "created_at"],
    )


def downgrade() -> None:
    for index, table in (
        ("ix_cache_entries_pipeline_step_created_at", "cache_entries"),
        ("ix_metrics_run_id", "metrics"),
        ("ix_lineage_run_id_step", "lineage"),
        ("ix_lineage_artifact_id", "lineage"),
        ("ix_artifacts_created_at", "artifacts"),
        ("ix_artifacts_name_created_at", "artifacts"),
        ("ix_artifacts_run_id", "artifacts"),
        ("ix_step_runs_run_id", "step_runs"),
        ("ix_runs_pipeline_started_at", "runs"),
        ("ix_runs_started_at", "runs"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("cache_entries", "params", "metrics", "lineage", "artifacts", "step_runs", "runs"):
        op.drop_table(table)
