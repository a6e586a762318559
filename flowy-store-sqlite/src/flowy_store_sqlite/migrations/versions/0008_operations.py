"""Operating pipelines: circuit breakers, alerts, schedules, resource usage per step.

Revision ID: 0008_operations
Revises: 0007_step_tags
Create Date: 2026-12-07

* ``circuit_breakers``: the state of each step's breaker, shared by every run.
* ``alerts`` and ``alert_deliveries``: alert incidents (one per rule and subject
  while firing) and every attempt to notify about them.
* ``schedules``, ``schedule_fires`` and ``scheduler_heartbeats``: what
  ``flowy scheduler`` starts, each due time claimed once, and its liveness.
* ``step_runs``: CPU seconds, peak RSS, bytes read and written, GPU memory and
  utilisation (NULL for rows from before, and where not measured).
* ``runs``: an index for counts by pipeline and status and each pipeline's last success.

Written out in full: a revision is history and must not change with the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_operations"
down_revision = "0007_step_tags"
branch_labels = None
depends_on = None

_STEP_RESOURCES = (
    ("cpu_seconds", sa.Float()),
    ("peak_rss_bytes", sa.BigInteger()),
    ("read_bytes", sa.BigInteger()),
    ("written_bytes", sa.BigInteger()),
    ("gpu_memory_bytes", sa.BigInteger()),
    ("gpu_utilization", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        for name, type_ in _STEP_RESOURCES:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_step_runs_step_status", "step_runs", ["step", "status"])
    op.create_index(
        "ix_runs_pipeline_status_finished_at", "runs", ["pipeline", "status", "finished_at"]
    )
    op.create_table(
        "circuit_breakers",
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("step", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=True),
        sa.Column("trial_run_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "step", name="pk_circuit_breakers"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("step", sa.String(255), nullable=True),
        sa.Column("artifact_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("fired_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alerts_rule_subject_status", "alerts", ["rule", "subject", "status"])
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("notifier", sa.String(255), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_deliveries_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_status_at", "alert_deliveries", ["status", "at"])
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("pipeline", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(255), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("stack", sa.String(255), nullable=True),
        sa.Column("workdir", sa.Text(), nullable=True),
        sa.Column("paused", sa.Integer(), nullable=False),
        sa.Column("allow_overlap", sa.Integer(), nullable=False),
        sa.Column("catchup", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_fire_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("fire_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule"], ["schedules.name"], name="fk_schedule_fires_schedule_schedules"
        ),
        sa.PrimaryKeyConstraint("schedule", "fire_at", name="pk_schedule_fires"),
    )
    op.create_table(
        "scheduler_heartbeats",
        sa.Column("scheduler_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scheduler_id", name="pk_scheduler_heartbeats"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_heartbeats")
    op.drop_table("schedule_fires")
    op.drop_table("schedules")
    op.drop_index("ix_alert_deliveries_status_at", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_fired_at", table_name="alerts")
    op.drop_index("ix_alerts_rule_subject_status", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("circuit_breakers")
    op.drop_index("ix_runs_pipeline_status_finished_at", table_name="runs")
    op.drop_index("ix_step_runs_step_status", table_name="step_runs")
    with op.batch_alter_table("step_runs") as batch:
        for name, _ in reversed(_STEP_RESOURCES):
            batch.drop_column(name)
