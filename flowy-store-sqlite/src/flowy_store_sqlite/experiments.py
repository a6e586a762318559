"""Read queries behind ``flowy experiment``, over the existing runs, metrics and artifacts tables.

A mixin of :class:`~flowy_store_sqlite.metadata.SQLMetadataStore`: these are
optional store methods that :mod:`flowy.tracking.experiments` uses when a store has
them (and replaces with slower generic loops when it does not). They answer
in a handful of set-based statements however many runs an experiment holds,
instead of one query per run.

A run's experiment is the ``experiment`` column, or its pipeline when that is
NULL (runs recorded before experiments existed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from flowy.kernel.records import MetricRecord, RunRecord
from sqlalchemy import Connection, case, func, select

from flowy_store_sqlite import _rows
from flowy_store_sqlite import schema as s

#: Ids per ``IN (...)`` list: far below every database's bound-parameter limit.
CHUNK = 500

_EXPERIMENT = func.coalesce(s.runs.c.experiment, s.runs.c.pipeline)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


class ExperimentQueries:
    """Set-based reads for experiments; needs the host's ``_read()`` transaction."""

    def _read(self) -> AbstractContextManager[Connection]:  # provided by the store
        raise NotImplementedError

    def list_experiments(self) -> list[dict[str, Any]]:
        """One row per experiment: run counts by outcome, first and last start, pipelines."""
        r = s.runs.c
        query = (
            select(
                _EXPERIMENT.label("name"),
                func.count().label("runs"),
                func.sum(case((r.status == "completed", 1), else_=0)).label("completed"),
                func.sum(case((r.status == "failed", 1), else_=0)).label("failed"),
                func.min(r.started_at).label("first_started_at"),
                func.max(r.started_at).label("last_started_at"),
            )
            .group_by(_EXPERIMENT)
            .order_by(func.max(r.started_at).desc())
        )
        pipelines = select(_EXPERIMENT.label("name"), r.pipeline).distinct()
        with self._read() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
            by_name: dict[str, list[str]] = {}
            for name, pipeline in conn.execute(pipelines):
                by_name.setdefault(name, []).append(pipeline)
        for row in rows:
            row["completed"] = int(row["completed"] or 0)
            row["failed"] = int(row["failed"] or 0)
            row["pipelines"] = sorted(by_name.get(row["name"], []))
        return rows

    def experiment_runs(
        self, experiment: str, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """The runs of one experiment, newest first."""
        query = (
            select(s.runs)
            .where(_EXPERIMENT == experiment)  # noqa: SIM300 - a column, not a constant
            .order_by(s.runs.c.started_at.desc(), s.runs.c.run_id.desc())
        )
        if status is not None:
            query = query.where(s.runs.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_rows.run_record(row) for row in conn.execute(query).mappings()]

    def metrics_of_runs(
        self, run_ids: Sequence[str], steps: Sequence[tuple[str, str]] = ()
    ) -> dict[str, list[tuple[str, MetricRecord]]]:
        """Every metric of these runs, ``run_id -> [(step, metric), ...]`` in logged order.

        ``steps`` adds the metrics of single (run, step) pairs: the steps whose
        outputs a cached step re-used, so their metrics can be shown for it.
        """
        m = s.metrics.c
        found: dict[str, list[tuple[str, MetricRecord]]] = {}
        runs = set(run_ids)
        wanted = {(run, step) for run, step in steps}
        ids = sorted(runs | {run for run, _ in wanted})
        with self._read() as conn:
            for chunk in _chunks(ids):
                query = select(s.metrics).where(m.run_id.in_(chunk)).order_by(m.id)
                for row in conn.execute(query).mappings():
                    run_id = row["run_id"]
                    if run_id in runs or (run_id, row["step"]) in wanted:
                        found.setdefault(run_id, []).append((row["step"], _rows.metric_record(row)))
        return found

    def artifact_producers(self, artifact_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``artifact_id -> (run_id, step)`` of the step run that wrote each artifact."""
        a = s.artifacts.c
        found: dict[str, tuple[str, str]] = {}
        ids = sorted(set(artifact_ids))
        with self._read() as conn:
            for chunk in _chunks(ids):
                query = select(a.artifact_id, a.run_id, a.step).where(a.artifact_id.in_(chunk))
                for artifact_id, run_id, step in conn.execute(query):
                    found[artifact_id] = (run_id, step)
        return found

    def step_runs_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Any]]:
        """``run_id -> [StepRunRecord, ...]`` (in recorded order, logs left out)."""
        c = s.step_runs.c
        columns = [col for col in s.step_runs.c if col.name != "logs"]
        found: dict[str, list[Any]] = {}
        with self._read() as conn:
            for chunk in _chunks(sorted(set(run_ids))):
                query = select(*columns).where(c.run_id.in_(chunk)).order_by(c.id)
                for row in conn.execute(query).mappings():
                    record = _rows.step_record({**row, "logs": ""})
                    found.setdefault(record.run_id, []).append(record)
        return found
