"""``SQLiteMetadataStore``: the ``sqlite`` metadata store, on the stdlib driver.

Every ``flowy run`` and every ``flowy runs list`` opens the metadata store,
and importing SQLAlchemy alone takes about 125 ms: a quarter of a 100-step
run and most of a listing. So the store behind the default stack speaks to
SQLite through :mod:`sqlite3` for what those commands do (open or create the
database, record runs and steps, look up the cache, list runs, metrics and
experiments) and opens the full SQLAlchemy store,
:class:`~flowy_store_sqlite.metadata.SQLMetadataStore`, only when another
method is called (lineage, search, the model registry, cache maintenance,
migrating an older database). Both share this store's one connection and its
lock, so they see one database and never hold two transactions at once.

The SQL here is plain SQLite over the tables of :mod:`flowy_store_sqlite.schema`;
a new database is created from the generated ``sqlite_schema.sql`` (a test
keeps it equal to ``create_all``), and the contract suite runs against this
class as it does against the SQLAlchemy store. The ``sql`` store kind stays
SQLAlchemy for every URL.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowy.kernel.catalog import Catalog
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.errors import ConfigError, RunNotFoundError
from flowy.kernel.records import (
    CRASHED,
    RUNNING,
    ArtifactRef,
    CacheEntry,
    MetricRecord,
    RunRecord,
    StepRunRecord,
)

from flowy_store_sqlite import _rows, connect, faults
from flowy_store_sqlite.options import SQLMetadataStoreOptions
from flowy_store_sqlite.procs import pid_alive
from flowy_store_sqlite.revisions import HEAD_REVISION

if TYPE_CHECKING:
    from flowy_store_sqlite.metadata import SQLMetadataStore

_RUNS_ORDER = "ORDER BY started_at DESC, run_id DESC"
#: Ids per ``IN (...)`` list, far below SQLite's bound-parameter limit.
_IN_CHUNK = 500


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + c for c in columns)})"


_INSERT_RUN = _insert("runs", list(_rows.run_row(RunRecord("", "", ""))))
_INSERT_PARAM = _insert("params", ["run_id", "name", "value"])
_INSERT_STEP = _insert("step_runs", list(_rows.step_row(StepRunRecord("", "", ""))))
_INSERT_ARTIFACT = _insert("artifacts", list(_rows.artifact_row(_rows.PROBE_ARTIFACT, "", "", 0.0)))
_INSERT_TAG = _insert("artifact_tags", ["artifact_id", "tag"])
_INSERT_EDGE = _insert("lineage", _rows.EDGE_KEYS)
_INSERT_METRIC = _insert("metrics", list(_rows.metric_row(MetricRecord("", 0.0), "", "")))
_INSERT_CACHE = _insert("cache_entries", list(_rows.cache_row(CacheEntry("", "", "", "", {}, {}))))
#: Cache hits are read by two queries over one source of entries, in one snapshot: the
#: entries whole, then each output's name and artifact row (NULLs when the row is gone)
#: with only its entry's key. One join repeating the entry's outputs JSON on each of its
#: rows would make a 10,000-output step's lookup read that JSON 10,000 times.
_CACHE_ENTRIES = "SELECT c.* FROM {source}{where}"
_CACHE_REFS = (
    "SELECT c.key AS c_key, o.key AS output, a.* FROM {source}"
    # A malformed outputs cell must not fail the query: that entry alone is a miss.
    " JOIN json_each(CASE WHEN json_valid(c.outputs) THEN c.outputs ELSE '{{}}' END) o"
    " LEFT JOIN artifacts a ON a.artifact_id = o.value{where}"
)
#: The entry of one key.
_KEY = {"source": "cache_entries c", "where": " WHERE c.key = ?"}
#: The newest entry of each step named in a JSON list, in one pipeline.
_LATEST = {
    "source": "json_each(?) s JOIN cache_entries c ON c.key = (SELECT x.key FROM cache_entries x"
    " WHERE x.pipeline = ? AND x.step = s.value ORDER BY x.created_at DESC LIMIT 1)",
    "where": "",
}
_CACHE_OUTPUTS = (_CACHE_ENTRIES.format(**_KEY), _CACHE_REFS.format(**_KEY))
_LATEST_CACHE_OUTPUTS = (_CACHE_ENTRIES.format(**_LATEST), _CACHE_REFS.format(**_LATEST))
_COUNT_HIT = "UPDATE cache_entries SET hits = hits + 1 WHERE key = ?"


class SQLiteMetadataStore(MetadataStore, Catalog):
    """Runs, steps, artifacts, lineage, metrics and cache in a SQLite file (see the module)."""

    Options: ClassVar[Any] = SQLMetadataStoreOptions

    def __init__(self, url: str, fsync: bool = False, busy_timeout: float = 30.0) -> None:
        self.url = connect.normalize_url(url)
        self._fsync = fsync
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._full: SQLMetadataStore | None = None
        self._names: dict[str, tuple[str, ...]] = {}
        self._json_each = True  # SQLite's JSON functions (built in since 3.38); see below
        self._db: sqlite3.Connection | None = None
        path = connect.sqlite_database(self.url)
        if path is None:
            if not self.url.startswith("sqlite"):
                raise ConfigError(
                    f"The 'sqlite' metadata store needs a SQLite file path or sqlite:/// URL, "
                    f"not {self.url.split('://', 1)[0]}://...: use the store type 'sql' "
                    "for other databases (it takes any SQLAlchemy URL)."
                )
            # A SQLite URL with options or a file: URI: let SQLAlchemy open it, then share.
            full = self._open_full(None)
            self._db = full.conn.connection.dbapi_connection  # type: ignore[assignment]
            return
        try:
            self._db = connect.open_sqlite(path, fsync=fsync, busy_timeout=busy_timeout)
            self._ensure_schema()
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.DatabaseError):
                faults.check(exc, self.url)  # a damaged file, a full disk: say which and why
            raise

    # -- plumbing ----------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"the metadata store at {self.url} is closed")
        return self._db

    def _open_full(self, connection: Callable[[], sqlite3.Connection] | None) -> SQLMetadataStore:
        from flowy_store_sqlite.metadata import SQLMetadataStore

        self._full = SQLMetadataStore(
            self.url,
            fsync=self._fsync,
            busy_timeout=self._busy_timeout,
            connection=connection,
            lock=self._lock,
        )
        return self._full

    @property
    def full(self) -> SQLMetadataStore:
        """The SQLAlchemy store on this store's connection, opened on first use."""
        with self._lock:
            if self._full is None:
                db = self.db
                self._open_full(lambda: db)
            assert self._full is not None
            return self._full

    def _ensure_schema(self) -> None:
        """Use an up-to-date database as is; create a new one from the generated DDL.

        Anything else (an older schema to migrate, a newer or foreign one to
        refuse) is the SQLAlchemy store's job, with its Alembic migrations.
        """
        if self._revision() == HEAD_REVISION:
            return
        if self._is_empty():
            with self._write() as cur:
                # Re-checked under the write lock: two processes create it once.
                if self._is_empty():
                    ddl = Path(__file__).with_name("sqlite_schema.sql").read_text("utf-8")
                    for statement in ddl.split(";\n"):
                        if statement.strip():
                            cur.execute(statement)
            if self._revision() == HEAD_REVISION:
                return
        _ = self.full  # migrates, or refuses with a message naming the revision

    def _is_empty(self) -> bool:
        return not self._has_table("alembic_version") and not self._has_table("runs")

    def _has_table(self, name: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _revision(self) -> str | None:
        if not self._has_table("alembic_version"):
            return None
        rows = [r[0] for r in self.db.execute("SELECT version_num FROM alembic_version")]
        return ",".join(sorted(rows)) if rows else None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction (BEGIN IMMEDIATE: the write lock up front) and its cursor."""
        with self._lock:
            cur = self.db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                    cur.execute("COMMIT")
                except BaseException:
                    # SQLite may have rolled back itself (a full disk at COMMIT); a failed
                    # ROLLBACK must not hide why the transaction failed.
                    if self.db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            cur.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                faults.check(exc, self.url)
                raise
            finally:
                cur.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        """A read transaction (one snapshot for several SELECTs) and its cursor."""
        with self._lock:
            cur = self.db.cursor()
            try:
                cur.execute("BEGIN")
                try:
                    yield cur
                finally:
                    cur.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                faults.check(exc, self.url)
                raise
            finally:
                cur.close()

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Every row of one SELECT as a dict (one statement reads one snapshot)."""
        with self._lock:
            try:
                return self._select(self.db.cursor(), sql, args)
            except sqlite3.DatabaseError as exc:
                faults.check(exc, self.url)
                raise

    def _select(self, cur: sqlite3.Cursor, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Every row of one SELECT on ``cur`` as a dict; closes ``cur``."""
        try:
            rows = cur.execute(sql, args).fetchall()
            if not rows:
                return []
            names = self._names.get(sql)
            if names is None:  # a statement's columns never change while the store is open
                names = self._names[sql] = tuple(d[0] for d in cur.description)
            return [dict(zip(names, row, strict=True)) for row in rows]
        finally:
            cur.close()

    def _one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        rows = self._rows(sql, *args)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            if self._full is not None:
                self._full.close()
                self._full = None
            if self._db is not None:
                self._db.close()
                self._db = None

    def describe(self) -> dict[str, Any]:
        from flowy.kernel.redact import mask_text

        return {"url": mask_text(self.url)}  # e.g. sqlite:///x.db?password=... (SQLCipher)

    # -- runs --------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        params = [
            {"run_id": run.run_id, "name": k, "value": _rows.dumps(v)}
            for k, v in run.params.items()
        ]
        with self._write() as cur:
            cur.execute(_INSERT_RUN, _rows.run_row(run))
            if params:
                cur.executemany(_INSERT_PARAM, params)

    def finish_run(self, run_id: str, status: str, finished_at: float) -> None:
        with self._write() as cur:
            cur.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                (status, finished_at, run_id),
            )
            found = cur.rowcount
        if found == 0:
            raise RunNotFoundError(
                f"Cannot finish run {run_id!r}: it is not in {self.describe()['url']}."
            )

    def get_run(self, run_id: str) -> RunRecord:
        row = self._one("SELECT * FROM runs WHERE run_id = ?", run_id)
        if row is not None:
            return _rows.run_record(row)
        return self.full.get_run(run_id)  # an id prefix, or the not-found message

    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        where, args = _filters(pipeline=pipeline, status=status)
        sql = f"SELECT * FROM runs{where} {_RUNS_ORDER} LIMIT ?"
        return [_rows.run_record(r) for r in self._rows(sql, *args, limit)]

    def iter_runs(self) -> Iterator[RunRecord]:
        for row in self._rows(f"SELECT * FROM runs {_RUNS_ORDER}"):
            yield _rows.run_record(row)

    def mark_crashed_runs(self) -> int:
        """Mark ``running`` runs of this host whose process is gone as ``crashed``."""
        host = socket.gethostname()
        with self._lock:
            candidates = self._rows(
                "SELECT run_id, pid, started_at FROM runs "
                "WHERE status = ? AND host = ? AND pid IS NOT NULL",
                RUNNING,
                host,
            )
            dead = [r["run_id"] for r in candidates if not pid_alive(r["pid"], r["started_at"])]
            if dead:
                with self._write() as cur:
                    cur.executemany(
                        "UPDATE runs SET status = ? WHERE run_id = ? AND status = ?",
                        [(CRASHED, run_id, RUNNING) for run_id in dead],
                    )
        return len(dead)

    # -- steps -------------------------------------------------------------

    def record_step(
        self,
        step_run: StepRunRecord,
        artifacts: Sequence[ArtifactRef] = (),
        metrics: Sequence[MetricRecord] = (),
        cache_entry: CacheEntry | None = None,
    ) -> None:
        rows = _rows.StepRows(step_run, artifacts, metrics, cache_entry)
        with self._write() as cur:
            _insert_step(cur, rows)

    def record_steps(self, step_runs: Sequence[StepRunRecord]) -> None:
        """Several step records (no artifacts of their own: cached, skipped) in one transaction."""
        batch = [_rows.StepRows(rec) for rec in step_runs]
        if not batch:
            return
        # One executemany per statement, in recorded order: ids follow the batch's order.
        edges = [edge for rows in batch for edge in rows.edges]
        hits = [(rows.hit,) for rows in batch if rows.hit]
        with self._write() as cur:
            cur.executemany(_INSERT_STEP, [rows.step for rows in batch])
            if edges:
                cur.executemany(_INSERT_EDGE, edges)
            if hits:
                cur.executemany(_COUNT_HIT, hits)

    def get_step_runs(self, run_id: str) -> list[StepRunRecord]:
        rows = self._rows("SELECT * FROM step_runs WHERE run_id = ? ORDER BY id", run_id)
        return [_rows.step_record(r) for r in rows]

    # -- artifacts and metrics ---------------------------------------------

    def get_artifact(self, artifact_id: str) -> ArtifactRef:
        row = self._one("SELECT * FROM artifacts WHERE artifact_id = ?", artifact_id)
        if row is not None:
            return _rows.artifact_record(row)
        return self.full.get_artifact(artifact_id)  # an id prefix, or the not-found message

    def get_metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]:
        rows = self._rows("SELECT * FROM metrics WHERE run_id = ? ORDER BY id", run_id)
        return [(r["step"], _rows.metric_record(r)) for r in rows]

    # -- cache -------------------------------------------------------------

    def lookup_cache(self, key: str) -> CacheEntry | None:
        row = self._one("SELECT * FROM cache_entries WHERE key = ?", key)
        return None if row is None else _rows.cache_record_or_none(row)

    def lookup_cache_outputs(self, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        """The entry and its outputs' records in one snapshot (the per-cached-step read)."""
        found = self._cache_hits(_CACHE_OUTPUTS, key)
        if found is None:  # a SQLite built without JSON functions: one query per output
            return _rows.outputs_one_by_one(super().lookup_cache_outputs, key)
        return found[0] if found else None

    def latest_cache_outputs(
        self, pipeline: str, steps: Sequence[str]
    ) -> dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]]:
        """Each step's newest entry and its outputs in one query (an index seek per step)."""
        if not steps:
            return {}
        import json

        found = self._cache_hits(_LATEST_CACHE_OUTPUTS, json.dumps(list(steps)), pipeline)
        return {entry.step: (entry, refs) for entry, refs in found or ()}

    def _cache_hits(
        self, sql: tuple[str, str], *args: Any
    ) -> list[tuple[CacheEntry, dict[str, ArtifactRef]]] | None:
        """The entries a pair of ``_CACHE_ENTRIES`` / ``_CACHE_REFS`` queries finds, with refs.

        An entry one of whose outputs lost its record is left out (no hit can be
        served from it), as is a malformed one (with a warning). None when
        SQLite has no JSON functions.
        """
        if not self._json_each:
            return None
        try:
            with self._read():
                entry_rows = self._select(self.db.cursor(), sql[0], args)
                ref_rows = self._select(self.db.cursor(), sql[1], args) if entry_rows else []
        except sqlite3.OperationalError as exc:
            if "json_" not in str(exc):
                raise
            self._json_each = False
            return None
        return _rows.cache_hits(entry_rows, ref_rows)

    def record_cache_hit(self, key: str) -> None:
        with self._write() as cur:
            cur.execute(_COUNT_HIT, (key,))

    # -- experiments -------------------------------------------------------

    def list_experiments(self) -> list[dict[str, Any]]:
        """One row per experiment: run counts by outcome, first and last start, pipelines."""
        experiment = "coalesce(experiment, pipeline)"
        with self._read() as cur:
            cur.execute(
                f"SELECT {experiment} AS name, count(*) AS runs, "
                "sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed, "
                "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed, "
                "min(started_at) AS first_started_at, max(started_at) AS last_started_at "
                f"FROM runs GROUP BY {experiment} ORDER BY max(started_at) DESC"
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            cur.execute(f"SELECT DISTINCT {experiment}, pipeline FROM runs")
            by_name: dict[str, list[str]] = {}
            for name, pipeline in cur.fetchall():
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
        where, args = _filters(status=status)
        where = (where + " AND" if where else " WHERE") + " coalesce(experiment, pipeline) = ?"
        sql = f"SELECT * FROM runs{where} {_RUNS_ORDER} LIMIT ?"
        rows = self._rows(sql, *args, experiment, -1 if limit is None else limit)
        return [_rows.run_record(r) for r in rows]

    def metrics_of_runs(
        self, run_ids: Sequence[str], steps: Sequence[tuple[str, str]] = ()
    ) -> dict[str, list[tuple[str, MetricRecord]]]:
        """Every metric of these runs, ``run_id -> [(step, metric), ...]`` in logged order.

        ``steps`` adds the metrics of single (run, step) pairs: the steps whose
        outputs a cached step re-used, so their metrics can be shown for it.
        """
        found: dict[str, list[tuple[str, MetricRecord]]] = {}
        runs = set(run_ids)
        wanted = set(steps)
        for row in self._rows_in("metrics", "run_id", sorted(runs | {r for r, _ in wanted})):
            run_id = row["run_id"]
            if run_id in runs or (run_id, row["step"]) in wanted:
                found.setdefault(run_id, []).append((row["step"], _rows.metric_record(row)))
        return found

    def artifact_producers(self, artifact_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``artifact_id -> (run_id, step)`` of the step run that wrote each artifact."""
        rows = self._rows_in(
            "artifacts", "artifact_id", sorted(set(artifact_ids)), "artifact_id, run_id, step"
        )
        return {r["artifact_id"]: (r["run_id"], r["step"]) for r in rows}

    def step_runs_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[Any]]:
        """``run_id -> [StepRunRecord, ...]`` (in recorded order, logs left out)."""
        columns = ", ".join(c for c in _rows.step_row(StepRunRecord("", "", "")) if c != "logs")
        found: dict[str, list[Any]] = {}
        for row in self._rows_in("step_runs", "run_id", sorted(set(run_ids)), f"id, {columns}"):
            record = _rows.step_record({**row, "logs": ""})
            found.setdefault(record.run_id, []).append(record)
        return found

    def _rows_in(
        self, table: str, column: str, values: Sequence[str], columns: str = "*"
    ) -> list[dict[str, Any]]:
        """Rows whose ``column`` is one of ``values``, in insertion order, in one snapshot."""
        found: list[dict[str, Any]] = []
        with self._read() as cur:
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                cur.execute(
                    f"SELECT {columns} FROM {table} WHERE {column} IN ({marks}) ORDER BY rowid",
                    chunk,
                )
                names = [d[0] for d in cur.description]
                found.extend(dict(zip(names, r, strict=True)) for r in cur.fetchall())
        return found


def _insert_step(cur: sqlite3.Cursor, rows: _rows.StepRows) -> None:
    """Insert one record's rows inside the caller's write transaction."""
    cur.execute(_INSERT_STEP, rows.step)
    for sql, many in (
        (_INSERT_ARTIFACT, rows.artifacts),
        (_INSERT_TAG, rows.tags),
        (_INSERT_EDGE, rows.edges),
        (_INSERT_METRIC, rows.metrics),
    ):
        if len(many) == 1:
            cur.execute(sql, many[0])
        elif many:
            cur.executemany(sql, many)
    if rows.cache is not None:
        cur.execute("DELETE FROM cache_entries WHERE key = ?", (rows.cache["key"],))
        cur.execute(_INSERT_CACHE, rows.cache)
    if rows.hit:
        # The hit is counted in the step's own transaction: no extra commit per hit.
        cur.execute(_COUNT_HIT, (rows.hit,))


def _filters(**columns: str | None) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND b = ?`` for the given non-None column values, and the values."""
    used = [(name, value) for name, value in columns.items() if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = ?" for name, _ in used), [v for _, v in used]


#: Methods served by the SQLAlchemy store (opened on first use), by name.
FORWARDED = (
    "get_logs",
    "list_artifacts",
    "last_cache_entry",
    "delete_cache",
    "cache_stats",
    "artifact_info",
    "lineage",
    "artifact_uses",
    "run_artifacts",
    "search_artifacts",
    "register_model_version",
    "list_models",
    "model_versions",
    "get_model_version",
    "set_model_stage",
    "rollback_model",
    "model_history",
    "describe_catalog",
    "artifact_uris",
    "delete_runs",
)


def _forward(name: str) -> Any:
    def method(self: SQLiteMetadataStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.full, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Served by the SQLAlchemy store: see ``SQLMetadataStore.{name}``."
    return method


for _name in FORWARDED:
    setattr(SQLiteMetadataStore, _name, _forward(_name))
abc.update_abstractmethods(SQLiteMetadataStore)  # type: ignore[type-abstract]
