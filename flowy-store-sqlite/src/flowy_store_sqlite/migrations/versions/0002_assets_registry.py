"""Assets, lineage indexes, and the model registry.

Revision ID: 0002_assets_registry
Revises: 0001_initial
Create Date: 2025-02-01

* ``artifacts`` gains ``asset_type`` (existing rows: ``artifact``) and
  ``asset_name``; tags go to ``artifact_tags``.
* The lineage indexes become covering indexes for the recursive walk in both
  directions (artifact -> producing step run -> its inputs, and back).
* ``metrics`` and ``runs`` gain indexes for comparisons by metric name and
  listing by experiment.
* ``registered_models``, ``model_versions`` and ``model_stage_history`` hold
  the model registry.

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_assets_registry"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(
            sa.Column("asset_type", sa.String(32), nullable=False, server_default="artifact")
        )
        batch.add_column(sa.Column("asset_name", sa.String(255), nullable=True))
    op.create_index(
        "ix_artifacts_asset_type_created_at", "artifacts", ["asset_type", "created_at"]
    )
    op.create_index(
        "ix_artifacts_asset_name_created_at", "artifacts", ["asset_name", "created_at"]
    )
    op.create_table(
        "artifact_tags",
        sa.Column("artifact_id", sa.String(64), nullable=False),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.artifact_id"], name="fk_artifact_tags_artifact_id_artifacts"
        ),
        sa.PrimaryKeyConstraint("artifact_id", "tag", name="pk_artifact_tags"),
    )
    op.create_index("ix_artifact_tags_tag_artifact_id", "artifact_tags", ["tag", "artifact_id"])

    op.drop_index("ix_lineage_artifact_id", table_name="lineage")
    op.drop_index("ix_lineage_run_id_step", table_name="lineage")
    op.create_index(
        "ix_lineage_artifact_id_direction_run_id_step",
        "lineage",
        ["artifact_id", "direction", "run_id", "step"],
    )
    op.create_index(
        "ix_lineage_run_id_step_direction_artifact_id",
        "lineage",
        ["run_id", "step", "direction", "artifact_id"],
    )
    op.create_index("ix_metrics_name_run_id", "metrics", ["name", "run_id"])
    op.create_index("ix_runs_experiment_started_at", "runs", ["experiment", "started_at"])

    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["registered_models.name"], name="fk_model_versions_name_registered_models"
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.artifact_id"], name="fk_model_versions_artifact_id_artifacts"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_model_versions_run_id_runs"),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
    )
    op.create_index("ix_model_versions_artifact_id", "model_versions", ["artifact_id"])
    op.create_index("ix_model_versions_name_stage", "model_versions", ["name", "stage"])
    op.create_table(
        "model_stage_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_stage", sa.String(255), nullable=True),
        sa.Column("to_stage", sa.String(255), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_stage_history"),
    )
    op.create_index("ix_model_stage_history_name_id", "model_stage_history", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_stage_history_name_id", table_name="model_stage_history")
    op.drop_table("model_stage_history")
    op.drop_index("ix_model_versions_name_stage", table_name="model_versions")
    op.drop_index("ix_model_versions_artifact_id", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
    op.drop_index("ix_runs_experiment_started_at", table_name="runs")
    op.drop_index("ix_metrics_name_run_id", table_name="metrics")
    op.drop_index("ix_lineage_run_id_step_direction_artifact_id", table_name="lineage")
    op.drop_index("ix_lineage_artifact_id_direction_run_id_step", table_name="lineage")
    op.create_index("ix_lineage_artifact_id", "lineage", ["artifact_id"])
    op.create_index("ix_lineage_run_id_step", "lineage", ["run_id", "step"])
    op.drop_index("ix_artifact_tags_tag_artifact_id", table_name="artifact_tags")
    op.drop_table("artifact_tags")
    op.drop_index("ix_artifacts_asset_name_created_at", table_name="artifacts")
    op.drop_index("ix_artifacts_asset_type_created_at", table_name="artifacts")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("asset_name")
        batch.drop_column("asset_type")
