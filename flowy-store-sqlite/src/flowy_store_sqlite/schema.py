"""The metadata schema as SQLAlchemy Core tables.

This module is the *current* shape of the database. The Alembic revisions in
``migrations/versions`` are the history that produces it; a test checks that
``alembic upgrade head`` on an empty database yields exactly these tables, so a
new store may take the fast path (``create_all`` plus writing the head
revision) without importing Alembic.

JSON values are TEXT holding ``json.dumps`` output: portable to every
database SQLAlchemy supports, and cheaper than the JSON type's processors.
Times are POSIX seconds as floats, the way the records carry them.

When you change a table here, add an Alembic revision that makes the same
change and bump ``HEAD_REVISION`` in :mod:`flowy_store_sqlite.revisions` (a test fails
until both agree).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from flowy_store_sqlite.revisions import HEAD_REVISION

ID = 64
NAME = 255
STATUS = 32

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(ID), primary_key=True),
    Column("pipeline", String(NAME), nullable=False),
    Column("status", String(STATUS), nullable=False),
    Column("params", Text, nullable=False),
    Column("stack", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("git", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("experiment", String(NAME)),
    Column("pid", Integer),
    Column("host", String(NAME)),
    Index("ix_runs_started_at", "started_at"),
    Index("ix_runs_pipeline_started_at", "pipeline", "started_at"),
    Index("ix_runs_experiment_started_at", "experiment", "started_at"),
    # The runs list's keyset pages (flowy_store_sqlite.run_search).
    Index("ix_runs_started_at_run_id", "started_at", "run_id"),
    # Runs by pipeline and status, and the last success of each (flowy monitor serve).
    Index("ix_runs_pipeline_status_finished_at", "pipeline", "status", "finished_at"),
)

step_runs = Table(
    "step_runs",
    metadata,
    # An integer key keeps "the order they were recorded" exact and cheap.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID), ForeignKey("runs.run_id"), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("status", String(STATUS), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("attempts", Integer, nullable=False),
    Column("cache_key", String(NAME)),
    Column("code_hash", String(NAME)),
    Column("error", Text),
    Column("error_type", String(NAME)),
    Column("traceback", Text),
    Column("logs", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("outputs", Text, nullable=False),
    # The step's tags, a JSON list (0007_step_tags; rows from before it read as []).
    Column("tags", Text, nullable=False, server_default="[]"),
    # What the step used (0008_operations; NULL when not measured): CPU seconds of its
    # process(es), peak resident set, bytes read/written, and GPU memory and utilisation
    # where NVML is available.
    Column("cpu_seconds", Float),
    Column("peak_rss_bytes", BigInteger),
    Column("read_bytes", BigInteger),
    Column("written_bytes", BigInteger),
    Column("gpu_memory_bytes", BigInteger),
    Column("gpu_utilization", Float),
    Index("ix_step_runs_run_id", "run_id"),
    # The metrics endpoint reads durations per step name (flowy monitor serve).
    Index("ix_step_runs_step_status", "step", "status"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("artifact_id", String(ID), primary_key=True),
    Column("run_id", String(ID), ForeignKey("runs.run_id"), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("uri", Text, nullable=False),
    Column("type_name", String(NAME), nullable=False),
    Column("materializer", String(NAME), nullable=False),
    Column("materializer_version", String(STATUS), nullable=False),
    Column("checksum", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # From the asset the step returned (flowy.tracking.assets); plain objects are "artifact".
    Column("asset_type", String(STATUS), nullable=False, server_default="artifact"),
    Column("asset_name", String(NAME)),
    Index("ix_artifacts_run_id", "run_id"),
    Index("ix_artifacts_name_created_at", "name", "created_at"),
    Index("ix_artifacts_created_at", "created_at"),
    Index("ix_artifacts_asset_type_created_at", "asset_type", "created_at"),
    Index("ix_artifacts_asset_name_created_at", "asset_name", "created_at"),
)

artifact_tags = Table(
    "artifact_tags",
    metadata,
    Column("artifact_id", String(ID), ForeignKey("artifacts.artifact_id"), primary_key=True),
    Column("tag", String(NAME), primary_key=True),
    Index("ix_artifact_tags_tag_artifact_id", "tag", "artifact_id"),
)

lineage = Table(
    "lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("artifact_id", String(ID), ForeignKey("artifacts.artifact_id"), nullable=False),
    Column("run_id", String(ID), ForeignKey("runs.run_id"), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("direction", String(16), nullable=False),  # produced | consumed
    Column("name", String(NAME), nullable=False),  # the step's input or output name
    # Covering indexes for the recursive lineage walk: artifact -> step run and back.
    Index(
        "ix_lineage_artifact_id_direction_run_id_step", "artifact_id", "direction", "run_id", "step"
    ),
    Index(
        "ix_lineage_run_id_step_direction_artifact_id", "run_id", "step", "direction", "artifact_id"
    ),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID), ForeignKey("runs.run_id"), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("name", String(NAME), nullable=False),
    # NULL is a NaN: SQLite has none (it stores one as NULL), so every store writes it so.
    Column("value", Float),
    Column("idx", BigInteger),
    Column("timestamp", Float, nullable=False),
    Index("ix_metrics_run_id", "run_id"),
    Index("ix_metrics_name_run_id", "name", "run_id"),
    # A run's last value of a metric in one seek (flowy_store_sqlite.run_search).
    Index("ix_metrics_run_id_name_id", "run_id", "name", "id"),
    # The runs list sorted by a metric walks its values in order (run_search._by_metric).
    Index("ix_metrics_name_value", "name", "value"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(ID), ForeignKey("runs.run_id"), primary_key=True),
    Column("name", String(NAME), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_name_run_id", "name", "run_id"),
)

cache_entries = Table(
    "cache_entries",
    metadata,
    Column("key", String(NAME), primary_key=True),
    Column("pipeline", String(NAME), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("run_id", String(ID), nullable=False),
    Column("components", Text, nullable=False),
    Column("outputs", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("hits", Integer, nullable=False),
    # Bytes of the entry's outputs, and its newest hit (else its creation): what the
    # size budget of `flowy cache limits` evicts by (NULL in rows from before 0009).
    Column("size", BigInteger, nullable=True),
    Column("last_used_at", Float, nullable=True),
    Index("ix_cache_entries_pipeline_step_created_at", "pipeline", "step", "created_at"),
)

#: `flowy cache limits`: ttl (seconds) and size budget (bytes) per pipeline; "" for every one.
cache_limits = Table(
    "cache_limits",
    metadata,
    Column("pipeline", String(NAME), primary_key=True),
    Column("ttl", Float, nullable=True),
    Column("max_bytes", BigInteger, nullable=True),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("description", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(NAME), ForeignKey("registered_models.name"), primary_key=True),
    # Numbered 1, 2, 3... per name; the primary key makes a duplicate impossible.
    Column("version", Integer, primary_key=True),
    Column("artifact_id", String(ID), ForeignKey("artifacts.artifact_id"), nullable=False),
    Column("run_id", String(ID), ForeignKey("runs.run_id"), nullable=False),
    Column("stage", String(NAME), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("description", Text, nullable=False),
    Index("ix_model_versions_artifact_id", "artifact_id"),
    Index("ix_model_versions_name_stage", "name", "stage"),
)

model_stage_history = Table(
    "model_stage_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(NAME), nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(STATUS), nullable=False),  # register | promote | rollback
    Column("from_stage", String(NAME)),
    Column("to_stage", String(NAME), nullable=False),
    Column("user", String(NAME), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_model_stage_history_name_id", "name", "id"),
)

#: The change feed (see ``MetadataStore.changes_since``): one row per change to a run
#: or step, written in the transaction of the change. AUTOINCREMENT on SQLite so a
#: sequence number is never reused after the newest rows are deleted with their runs.
run_changes = Table(
    "run_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID), nullable=False),
    Column("step", String(NAME)),
    Column("kind", String(STATUS), nullable=False),  # run | step
    Column("status", String(STATUS), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_run_changes_run_id_seq", "run_id", "seq"),
    sqlite_autoincrement=True,
)

#: The live output of running steps (see ``MetadataStore.append_step_output``): what a
#: step printed so far, in batches, until its step run is recorded (which deletes them).
#: AUTOINCREMENT on SQLite for the same reason as ``run_changes``.
step_output = Table(
    "step_output",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(ID), nullable=False),
    Column("step", String(NAME), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_step_output_run_id_step_seq", "run_id", "step", "seq"),
    sqlite_autoincrement=True,
)

#: Runs someone asked to cancel (``flowy runs cancel``, the web UI); the orchestrator polls it.
run_cancel_requests = Table(
    "run_cancel_requests",
    metadata,
    Column("run_id", String(ID), primary_key=True),
    Column("requested_at", Float, nullable=False),
    Column("requested_by", String(NAME), nullable=False),
)

#: Circuit breakers (``@step(circuit_breaker=...)``): one row per pipeline step that has
#: one, shared by every run and process on the store. ``failures`` counts consecutive
#: failures; ``trial_run_id`` is the run holding the half-open trial.
circuit_breakers = Table(
    "circuit_breakers",
    metadata,
    Column("pipeline", String(NAME), primary_key=True),
    Column("step", String(NAME), primary_key=True),
    Column("state", String(STATUS), nullable=False),  # closed | open | half_open
    Column("failures", Integer, nullable=False),
    Column("opened_at", Float),
    Column("trial_run_id", String(ID)),
    Column("last_error", Text),
    Column("updated_at", Float, nullable=False),
)

#: Alert incidents: one row per rule and subject while it fires, resolved when it
#: clears (so an incident alerts once). ``subject`` is what the rule is about (a
#: pipeline, ``pipeline/step``, a model) and with ``rule`` the deduplication key.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(NAME), nullable=False),
    Column("kind", String(STATUS), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("status", String(STATUS), nullable=False),  # firing | resolved
    Column("severity", String(STATUS), nullable=False),
    Column("message", Text, nullable=False),
    Column("pipeline", String(NAME)),
    Column("run_id", String(ID)),
    Column("step", String(NAME)),
    Column("artifact_id", String(ID)),
    Column("model", String(NAME)),
    Column("model_version", Integer),
    Column("details", Text, nullable=False),  # JSON
    Column("fired_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Index("ix_alerts_rule_subject_status", "rule", "subject", "status"),
    Index("ix_alerts_fired_at", "fired_at"),
    sqlite_autoincrement=True,
)

#: Every attempt to tell a notifier about an alert firing or resolving.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("notifier", String(NAME), nullable=False),
    Column("event", String(STATUS), nullable=False),  # firing | resolved
    Column("status", String(STATUS), nullable=False),  # sent | failed
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("at", Float, nullable=False),
    Index("ix_alert_deliveries_alert_id", "alert_id"),
    Index("ix_alert_deliveries_status_at", "status", "at"),
)

#: ``flowy schedule add``: what to run, when (a cron expression in ``timezone``).
schedules = Table(
    "schedules",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("pipeline", Text, nullable=False),  # a file or module reference, as `flowy run` takes
    Column("cron", String(NAME), nullable=False),
    Column("timezone", String(NAME), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("stack", String(NAME)),
    Column("workdir", Text),
    Column("paused", Integer, nullable=False),
    Column("allow_overlap", Integer, nullable=False),
    Column("catchup", String(STATUS), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_fire_at", Float),
)

#: One row per scheduled time a schedule was due: the primary key is what keeps a
#: restarted (or second) scheduler from starting the same time twice.
schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("schedule", String(NAME), ForeignKey("schedules.name"), primary_key=True),
    Column("fire_at", Float, primary_key=True),
    Column("status", String(STATUS), nullable=False),  # see flowy.kernel.schedules
    Column("run_id", String(ID)),
    Column("reason", Text),
    Column("claimed_at", Float, nullable=False),
    # Who holds the time: the scheduler's pid while ``claimed``, the `flowy run` child's
    # once ``started`` (on ``host``), so a restarted scheduler can tell it is still running.
    Column("pid", Integer),
    Column("host", String(NAME)),
    Column("log", Text),  # the child's output file
)

#: Schedulers alive on the store: their heartbeat (a metric, and `flowy doctor`).
scheduler_heartbeats = Table(
    "scheduler_heartbeats",
    metadata,
    Column("scheduler_id", String(ID), primary_key=True),
    Column("host", String(NAME), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

# Alembic's own bookkeeping table, declared apart from ``metadata`` so that
# comparisons against the migrations ignore it, but with Alembic's exact DDL
# so the fast path (create_all + stamp) is indistinguishable from an upgrade.
version_metadata = MetaData()
alembic_version = Table(
    "alembic_version",
    version_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


#: The SQLite DDL of the head schema, for stores that create a database without
#: SQLAlchemy (:mod:`flowy_store_sqlite.sqlite`). Generated by :func:`sqlite_ddl`;
#: a test fails when it drifts from the tables above.
SQLITE_DDL_FILE = "sqlite_schema.sql"


def sqlite_ddl() -> str:
    """CREATE TABLE / CREATE INDEX statements for SQLite, then the head stamp."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect()  # type: ignore[no-untyped-call]
    statements: list[str] = []
    for table in [*metadata.sorted_tables, alembic_version]:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    # The compiler ends lines with a space; the file keeps clean lines.
    statements = ["\n".join(line.rstrip() for line in s.strip().splitlines()) for s in statements]
    statements.append(f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD_REVISION}')")
    header = (
        "-- The head schema of flowy-store-sqlite for SQLite, generated from schema.py.\n"
        "-- Regenerate: python -c 'from flowy_store_sqlite import schema; "
        "schema.write_sqlite_ddl()'\n"
    )
    return header + ";\n\n".join(statements) + ";\n"


def write_sqlite_ddl() -> None:
    """Rewrite :data:`SQLITE_DDL_FILE` from the tables above."""
    from pathlib import Path

    (Path(__file__).parent / SQLITE_DDL_FILE).write_text(sqlite_ddl(), encoding="utf-8")
