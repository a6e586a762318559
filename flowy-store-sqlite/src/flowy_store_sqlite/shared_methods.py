"""The store methods both metadata stores answer alike, written once.

:class:`~flowy_store_sqlite.sqlite.SQLiteMetadataStore` (the stdlib driver)
and :class:`~flowy_store_sqlite.metadata.SQLMetadataStore` (SQLAlchemy) run
the same queries and turn their rows into the same records; only how a
statement is run differs. So each store names its queries module in ``Q``
(:mod:`~flowy_store_sqlite.queries`, or its SQLite compilation
:mod:`~flowy_store_sqlite.sqlite_queries`: the same names) and supplies two
primitives:

* ``_select(*(query, params))``: the rows of each query, as mappings, read in
  one snapshot;
* ``_execute(*(statement, rows))``: each statement once per row, in order, in
  one write transaction; the number of rows each changed.

No SQLAlchemy here: the stdlib store must not import it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from flowy.kernel.errors import RunNotFoundError
from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord

from flowy_store_sqlite import _rows
from flowy_store_sqlite.cache_limits import CacheLimitMethods
from flowy_store_sqlite.change_methods import RUN, ChangeMethods, change_row
from flowy_store_sqlite.procs import pid_alive
from flowy_store_sqlite.step_rows import StepRows, step_writes

#: Ids per ``IN (...)`` list in these reads: far below every database's bound-parameter limit.
CHUNK = 500

Rows = Sequence[Mapping[Any, Any]]


class SharedMethods(ChangeMethods, CacheLimitMethods):
    """Runs, steps, metrics, the cache and experiments over ``Q``, ``_select`` and ``_execute``.

    Every write that changes a run or a step also writes its change-feed row, in
    its own transaction (see :mod:`flowy_store_sqlite.change_methods`).
    """

    #: The store's queries module (see the module docstring).
    Q: ClassVar[Any]
    _lock: threading.RLock

    def _select(self, *queries: tuple[Any, Mapping[str, Any]]) -> list[Rows]:
        raise NotImplementedError

    def _execute(self, *writes: tuple[Any, Sequence[Mapping[str, Any]]]) -> list[int]:
        raise NotImplementedError

    if TYPE_CHECKING:  # each store's own

        def describe(self) -> dict[str, Any]: ...

    # -- runs --------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        params = [
            {"run_id": run.run_id, "name": k, "value": _rows.dumps(v)}
            for k, v in run.params.items()
        ]
        change = change_row(run.run_id, None, RUN, run.status, run.started_at or time.time())
        self._execute(
            (self.Q.INSERT_RUN, [_rows.run_row(run)]),
            (self.Q.INSERT_PARAM, params),
            (self.Q.INSERT_CHANGE, [change]),
        )

    def finish_run(self, run_id: str, status: str, finished_at: float) -> None:
        row = {"where_run_id": run_id, "status": status, "finished_at": finished_at}
        change = {"where_run_id": run_id, "at": finished_at}
        if self._execute((self.Q.FINISH_RUN, [row]), (self.Q.RUN_CHANGED, [change]))[0] == 0:
            raise RunNotFoundError(
                f"Cannot finish run {run_id!r}: it is not in {self.describe()['url']}."
            )

    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        return self._runs(limit=limit, pipeline=pipeline, status=status)

    def iter_runs(self) -> Iterator[RunRecord]:
        yield from self._runs()

    def experiment_runs(
        self, experiment: str, status: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """The runs of one experiment, newest first."""
        return self._runs(experiment=experiment, limit=limit, status=status)

    def _runs(self, **filters: Any) -> list[RunRecord]:
        """Runs newest first: the ``Q.RUNS`` variant for the filters given (not None).

        Callers name the filters in ``RUN_FILTERS``' (alphabetical) order, the order
        of the variants' keys.
        """
        params = {name: value for name, value in filters.items() if value is not None}
        (rows,) = self._select((self.Q.RUNS[tuple(params)], params))
        return [_rows.run_record(r) for r in rows]

    def mark_crashed_runs(self) -> int:
        """Mark ``running`` runs of this host whose process is gone as ``crashed``.

        A run whose orchestrator was killed stays ``running`` forever otherwise.
        Only runs started on this host are judged (another host's pids mean
        nothing here); a pid reused by a younger process counts as gone. The
        write lock is taken only when a run is found dead.
        """
        with self._lock:
            (rows,) = self._select((self.Q.RUNNING_ON_HOST, {"host": socket.gethostname()}))
            dead = [
                {"where_run_id": r["run_id"]}
                for r in rows
                if not pid_alive(r["pid"], r["started_at"])
            ]
            if dead:
                now = time.time()
                changes = [{"where_run_id": d["where_run_id"], "at": now} for d in dead]
                self._execute((self.Q.CRASH_RUN, dead), (self.Q.RUN_CHANGED, changes))
        return len(dead)

    # -- steps, metrics, cache ---------------------------------------------

    def record_step(
        self,
        step_run: StepRunRecord,
        artifacts: Sequence[ArtifactRef] = (),
        metrics: Sequence[MetricRecord] = (),
        cache_entry: CacheEntry | None = None,
    ) -> None:
        self._execute(
            *step_writes([StepRows(step_run, artifacts, metrics, cache_entry)], self.Q),
            *self.output_cleanup(step_run.run_id, step_run.step),  # its live tail goes
        )

    def record_steps(self, step_runs: Sequence[StepRunRecord]) -> None:
        """Several step records (cached, skipped: nothing new with them) in one transaction."""
        if step_runs:
            self._execute(
                *step_writes([StepRows(rec, (), (), None) for rec in step_runs], self.Q),
                *(w for rec in step_runs for w in self.output_cleanup(rec.run_id, rec.step)),
            )

    def record_step_batch(
        self,
        batch: Sequence[
            tuple[StepRunRecord, Sequence[ArtifactRef], Sequence[MetricRecord], CacheEntry | None]
        ],
    ) -> None:
        """Several finished step runs with their artifacts, metrics and cache entries, in
        one transaction (a map's elements finish many at a time)."""
        if batch:
            self._execute(
                *step_writes([StepRows(*parts) for parts in batch], self.Q),
                *(
                    w
                    for parts in batch
                    for w in self.output_cleanup(parts[0].run_id, parts[0].step)
                ),
            )

    def get_step_runs(self, run_id: str) -> list[StepRunRecord]:
        (rows,) = self._select((self.Q.STEP_RUNS, {"run_id": run_id}))
        return [_rows.step_record(r) for r in rows]

    def get_metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]:
        (rows,) = self._select((self.Q.METRICS, {"run_id": run_id}))
        return [(r["step"], _rows.metric_record(r)) for r in rows]

    def lookup_cache(self, key: str) -> CacheEntry | None:
        (rows,) = self._select((self.Q.CACHE_ENTRY, {"key": key}))
        return _rows.cache_record_or_none(rows[0]) if rows else None

    def record_cache_hit(self, key: str) -> None:
        self._execute((self.Q.COUNT_HIT, [{"where_key": key, "at": time.time()}]))

    # -- experiments (optional methods flowy.tracking.experiments uses) ----

    def list_experiments(self) -> list[dict[str, Any]]:
        """One row per experiment: run counts by outcome, first and last start, pipelines."""
        rows, pairs = self._select((self.Q.EXPERIMENTS, {}), (self.Q.EXPERIMENT_PIPELINES, {}))
        by_name: dict[str, list[str]] = {}
        for pair in pairs:
            by_name.setdefault(pair["name"], []).append(pair["pipeline"])
        found = [dict(row) for row in rows]
        for row in found:
            row["completed"] = int(row["completed"] or 0)
            row["failed"] = int(row["failed"] or 0)
            row["pipelines"] = sorted(by_name.get(row["name"], []))
        return found

    def metrics_of_runs(
        self, run_ids: Sequence[str], steps: Sequence[tuple[str, str]] = ()
    ) -> dict[str, list[tuple[str, MetricRecord]]]:
        """Every metric of these runs, ``run_id -> [(step, metric), ...]`` in logged order.

        ``steps`` adds the metrics of single (run, step) pairs: the steps whose
        outputs a cached step re-used, so their metrics can be shown for it.
        """
        runs = set(run_ids)
        wanted = set(steps)
        found: dict[str, list[tuple[str, MetricRecord]]] = {}
        for row in self._select_ids(self.Q.METRICS_OF_RUNS, runs | {r for r, _ in wanted}):
            run_id = row["run_id"]
            if run_id in runs or (run_id, row["step"]) in wanted:
                found.setdefault(run_id, []).append((row["step"], _rows.metric_record(row)))
        return found

    def artifact_producers(self, artifact_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``artifact_id -> (run_id, step)`` of the step run that wrote each artifact."""
        rows = self._select_ids(self.Q.ARTIFACT_PRODUCERS, set(artifact_ids))
        return {r["artifact_id"]: (r["run_id"], r["step"]) for r in rows}

    def step_runs_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Any]]:
        """``run_id -> [StepRunRecord, ...]`` (in recorded order, logs left out)."""
        found: dict[str, list[Any]] = {}
        for row in self._select_ids(self.Q.STEP_RUNS_OF_RUNS, set(run_ids)):
            record = _rows.step_record({**row, "logs": ""})
            found.setdefault(record.run_id, []).append(record)
        return found

    def _select_ids(self, query: Any, ids: set[str]) -> list[Mapping[Any, Any]]:
        """The rows of ``query`` for every id (``CHUNK`` at a time), in one snapshot."""
        queries = [(query, {"ids": chunk}) for chunk in chunks(sorted(ids), CHUNK)]
        return [row for rows in self._select(*queries) for row in rows] if queries else []


def chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``, one per ``IN (...)``."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
