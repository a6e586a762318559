"""``SQLMetadataStore``: Flowy's metadata on SQLAlchemy Core (SQLite by default).

Built for the engine's hot path: ``record_step`` runs once per step, so the
store holds one connection for its lifetime, builds its statements once (so
SQLAlchemy's compiled cache always hits), uses executemany for artifacts,
lineage and metrics, and never reflects tables after opening. Queries use
only portable SQL; the SQLite specifics (WAL, pragmas, BEGIN IMMEDIATE) live
in :mod:`flowy_store_sqlite.database`.

One lock serialises use of the connection, because engine callbacks may come
from executor threads; the orchestrator is the only writer (ARCHITECTURE.md),
so the lock is never contended in practice.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from flowy.kernel.catalog import Catalog
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.errors import ArtifactNotFoundError, RunNotFoundError
from flowy.kernel.records import (
    CRASHED,
    RUNNING,
    ArtifactRef,
    CacheEntry,
    MetricRecord,
    RunRecord,
    StepRunRecord,
)
from sqlalchemy import (
    Column,
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from flowy_store_sqlite import _rows, connect, database, faults
from flowy_store_sqlite import schema as s
from flowy_store_sqlite.deletion import DeletionQueries
from flowy_store_sqlite.experiments import ExperimentQueries
from flowy_store_sqlite.lineage import LineageQueries
from flowy_store_sqlite.model_registry import ModelRegistryQueries
from flowy_store_sqlite.options import SQLMetadataStoreOptions
from flowy_store_sqlite.prepared import Prepared, cursor_of
from flowy_store_sqlite.procs import pid_alive

MIN_PREFIX = 4


class SQLMetadataStore(
    DeletionQueries, ExperimentQueries, LineageQueries, ModelRegistryQueries, MetadataStore, Catalog
):
    """Runs, step runs, artifacts, lineage, metrics, params and cache entries in SQL.

    Lineage queries, artifact search and the model registry (the
    :class:`flowy.kernel.catalog.Catalog` capability) live in their own mixins.
    """

    Options: ClassVar[Any] = SQLMetadataStoreOptions

    # Built once per class; compiled once per store for its dialect (see prepared.py).
    _hit_cache = (
        update(s.cache_entries)
        .where(s.cache_entries.c.key == bindparam("k"))
        .values(hits=s.cache_entries.c.hits + literal_column("1"))
    )
    _get_cache = select(s.cache_entries).where(s.cache_entries.c.key == bindparam("k"))
    _del_cache = delete(s.cache_entries).where(s.cache_entries.c.key == bindparam("k"))

    def __init__(
        self,
        url: str,
        fsync: bool = False,
        busy_timeout: float = 30.0,
        *,
        connection: Callable[[], sqlite3.Connection] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        """Open (and create or upgrade) the database at ``url``.

        ``connection`` and ``lock`` are for :class:`flowy_store_sqlite.sqlite.SQLiteMetadataStore`,
        which hands over its open SQLite connection and the lock guarding it, so
        both stores share one connection and one transaction at a time.
        """
        self.url = connect.normalize_url(url)
        #: The database as messages name it: the SQLite file, else the URL without password.
        self._where = faults.database_name(database.safe_url(self.url))
        self._engine = database.create(
            self.url, fsync=fsync, busy_timeout=busy_timeout, connection=connection
        )
        self._sqlite = database.is_sqlite(self.url)
        self._dbapi_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        self._lock = lock or threading.RLock()
        self._conn: Connection | None = None
        try:
            self._conn = self._engine.connect()
            database.ensure_schema(self._conn, self.url)
        except BaseException as exc:
            self.close()
            self._check(exc)  # a damaged file, a full disk: say which and why
            raise
        dialect = self._engine.dialect

        def ins(table: Table, row: dict[str, Any]) -> Prepared:
            return Prepared(insert(table), dialect, list(row))

        self._p_run = ins(s.runs, _rows.run_row(RunRecord("", "", "")))
        self._p_param = ins(s.params, {"run_id": "", "name": "", "value": ""})
        self._p_step = ins(s.step_runs, _rows.step_row(StepRunRecord("", "", "")))
        self._p_artifact = ins(s.artifacts, _rows.artifact_row(_rows.PROBE_ARTIFACT, "", "", 0.0))
        self._p_lineage = ins(s.lineage, dict.fromkeys(_rows.EDGE_KEYS, ""))
        self._p_tag = ins(s.artifact_tags, {"artifact_id": "", "tag": ""})
        self._p_metric = ins(s.metrics, _rows.metric_row(MetricRecord("", 0.0), "", ""))
        self._p_cache = ins(s.cache_entries, _rows.cache_row(CacheEntry("", "", "", "", {}, {})))
        self._p_del_cache = Prepared(self._del_cache, dialect)
        self._p_hit_cache = Prepared(self._hit_cache, dialect)

    # -- plumbing ----------------------------------------------------------

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError(f"the metadata store at {self.url} is closed")
        return self._conn

    def _check(self, exc: BaseException) -> None:
        """Raise the user-facing error for an environment fault behind ``exc`` (see faults)."""
        if isinstance(exc, (DBAPIError, sqlite3.DatabaseError)):
            faults.check(exc, self._where)

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock:
            conn = self.conn
            try:
                with conn.begin():
                    yield conn
            except (DBAPIError, sqlite3.DatabaseError) as exc:
                self._check(exc)
                raise

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock:
            conn = self.conn
            conn.info[database.WRITE_FLAG] = True
            try:
                with conn.begin():
                    yield conn
            except (DBAPIError, sqlite3.DatabaseError) as exc:
                self._check(exc)
                raise
            finally:
                conn.info[database.WRITE_FLAG] = False

    @contextlib.contextmanager
    def _write_raw(self) -> Iterator[tuple[Connection, Any]]:
        """A write transaction and a DBAPI cursor inside it, for prepared statements."""
        with self._write() as conn:
            cursor = cursor_of(conn)
            try:
                yield conn, cursor
            except self._dbapi_error as exc:
                # Raw driver errors become SQLAlchemy's, as Connection.execute would raise.
                raise DBAPIError.instance(None, None, exc, self._dbapi_error) from exc
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._engine.dispose()

    def describe(self) -> dict[str, Any]:
        return {"url": database.safe_url(self.url)}

    def _resolve(self, conn: Connection, table: Table, col: Column[Any], ident: str) -> Any:
        """The row whose id is ``ident`` or starts with it; None when none or ambiguous."""
        row = conn.execute(select(table).where(col == ident)).mappings().first()
        if row is not None or len(ident) < MIN_PREFIX:
            return row
        where = [col.startswith(ident, autoescape=True)]
        if self._sqlite:
            # SQLite's LIKE cannot use the (binary) primary key index; a range can.
            # Not elsewhere: under a locale collation the range may miss ids.
            where += [col >= ident, col < ident + "\U0010ffff"]
        query = select(table).where(*where).order_by(col).limit(6)
        rows = conn.execute(query).mappings().all()
        # LIKE ignores ASCII case on SQLite and MySQL: the prefix itself decides.
        rows = [r for r in rows if r[col.name].startswith(ident)]
        return rows[0] if len(rows) == 1 else rows

    def _not_found(self, what: str, ident: str, found: Any, hint: str) -> str:
        if len(ident) < MIN_PREFIX and not found:
            return (
                f"No {what} has the id {ident!r} in {self.describe()['url']}, and a prefix "
                f"must be at least {MIN_PREFIX} characters. {hint}"
            )
        if found:
            ids = ", ".join(str(next(iter(r.values()))) for r in found[:5])
            return (
                f"The {what} id prefix {ident!r} is ambiguous in {self.describe()['url']}: "
                f"it matches {ids}{', ...' if len(found) > 5 else ''}. Give more characters. {hint}"
            )
        return f"No {what} with id or id prefix {ident!r} in {self.describe()['url']}. {hint}"

    # -- runs --------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        with self._write_raw() as (conn, cur):
            self._p_run.run(conn, cur, _rows.run_row(run))
            if run.params:
                self._p_param.many(
                    conn,
                    cur,
                    [
                        {"run_id": run.run_id, "name": k, "value": _rows.dumps(v)}
                        for k, v in run.params.items()
                    ],
                )

    def finish_run(self, run_id: str, status: str, finished_at: float) -> None:
        with self._write() as conn:
            result = conn.execute(
                update(s.runs)
                .where(s.runs.c.run_id == run_id)
                .values(status=status, finished_at=finished_at)
            )
        if result.rowcount == 0:
            raise RunNotFoundError(
                f"Cannot finish run {run_id!r}: it is not in {self.describe()['url']}."
            )

    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            found = self._resolve(conn, s.runs, s.runs.c.run_id, run_id)
        if found is None or isinstance(found, list):
            raise RunNotFoundError(
                self._not_found("run", run_id, found, "List run ids with `flowy runs list`.")
            )
        return _rows.run_record(found)

    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        query = select(s.runs).order_by(s.runs.c.started_at.desc(), s.runs.c.run_id.desc())
        if pipeline is not None:
            query = query.where(s.runs.c.pipeline == pipeline)
        if status is not None:
            query = query.where(s.runs.c.status == status)
        with self._read() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [_rows.run_record(r) for r in rows]

    def mark_crashed_runs(self) -> int:
        """Mark ``running`` runs of this host whose process is gone as ``crashed``.

        A run whose orchestrator was killed stays ``running`` forever otherwise.
        Only runs started on this host are judged (another host's pids mean
        nothing here); a pid reused by a younger process counts as gone.
        """
        host = socket.gethostname()
        query = select(s.runs.c.run_id, s.runs.c.pid, s.runs.c.started_at).where(
            s.runs.c.status == RUNNING, s.runs.c.host == host, s.runs.c.pid.is_not(None)
        )
        with self._write() as conn:
            dead = [r.run_id for r in conn.execute(query) if not pid_alive(r.pid, r.started_at)]
            if dead:
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.run_id.in_(dead), s.runs.c.status == RUNNING)
                    .values(status=CRASHED)
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
        with self._write_raw() as (conn, cur):
            self._insert_step(conn, cur, rows)

    def record_steps(self, step_runs: Sequence[StepRunRecord]) -> None:
        """Several step records (cached, skipped: nothing new with them) in one transaction."""
        batch = [_rows.StepRows(rec) for rec in step_runs]
        if not batch:
            return
        with self._write_raw() as (conn, cur):
            for rows in batch:
                self._insert_step(conn, cur, rows)

    def _insert_step(self, conn: Connection, cur: Any, rows: _rows.StepRows) -> None:
        """Insert one record's rows inside the caller's write transaction."""
        self._p_step.run(conn, cur, rows.step)
        for prepared, many in (
            (self._p_artifact, rows.artifacts),
            (self._p_tag, rows.tags),
            (self._p_lineage, rows.edges),
            (self._p_metric, rows.metrics),
        ):
            if many:
                prepared.many(conn, cur, many)
        if rows.cache is not None:
            # Portable "insert or replace": no dialect-specific upsert.
            self._p_del_cache.run(conn, cur, {"k": rows.cache["key"]})
            self._p_cache.run(conn, cur, rows.cache)
        if rows.hit:
            # The hit is counted in the step's own transaction: no extra commit per hit.
            self._p_hit_cache.run(conn, cur, {"k": rows.hit})

    def get_step_runs(self, run_id: str) -> list[StepRunRecord]:
        query = select(s.step_runs).where(s.step_runs.c.run_id == run_id).order_by(s.step_runs.c.id)
        with self._read() as conn:
            return [_rows.step_record(r) for r in conn.execute(query).mappings()]

    def get_logs(self, run_id: str, step: str | None = None) -> dict[str, str]:
        """Captured logs of a run's steps (or of one step), step name -> text."""
        run = self.get_run(run_id)
        query = select(s.step_runs.c.step, s.step_runs.c.logs).where(
            s.step_runs.c.run_id == run.run_id
        )
        if step is not None:
            query = query.where(s.step_runs.c.step == step)
        with self._read() as conn:
            return {r.step: r.logs for r in conn.execute(query.order_by(s.step_runs.c.id))}

    # -- artifacts and metrics ---------------------------------------------

    def get_artifact(self, artifact_id: str) -> ArtifactRef:
        if self._sqlite:
            exact = self._sqlite_one("SELECT * FROM artifacts WHERE artifact_id = ?", artifact_id)
            if exact is not None:
                return _rows.artifact_record(exact)
        with self._read() as conn:
            found = self._resolve(conn, s.artifacts, s.artifacts.c.artifact_id, artifact_id)
        if found is None or isinstance(found, list):
            hint = "List artifact ids with `flowy artifacts list`, run ids with `flowy runs list`."
            raise ArtifactNotFoundError(self._not_found("artifact", artifact_id, found, hint))
        return _rows.artifact_record(found)

    def list_artifacts(
        self, run_id: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactRef]:
        a = s.artifacts.c
        query = select(s.artifacts).order_by(a.created_at.desc(), a.artifact_id.desc())
        if run_id is not None:
            query = query.where(a.run_id == run_id)
        if name is not None:
            query = query.where(a.name == name)
        with self._read() as conn:
            return [_rows.artifact_record(r) for r in conn.execute(query.limit(limit)).mappings()]

    def get_metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]:
        query = select(s.metrics).where(s.metrics.c.run_id == run_id).order_by(s.metrics.c.id)
        with self._read() as conn:
            return [(r["step"], _rows.metric_record(r)) for r in conn.execute(query).mappings()]

    # -- cache -------------------------------------------------------------

    def lookup_cache(self, key: str) -> CacheEntry | None:
        if self._sqlite:  # the per-step hot path: one plain SELECT on the driver
            found = self._sqlite_one("SELECT * FROM cache_entries WHERE key = ?", key)
            return None if found is None else _rows.cache_record_or_none(found)
        with self._read() as conn:
            row = conn.execute(self._get_cache, {"k": key}).mappings().first()
        return None if row is None else _rows.cache_record_or_none(row)

    def lookup_cache_outputs(self, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        """The entry and each output's record, one query each; a malformed row is a miss."""
        return _rows.outputs_one_by_one(super().lookup_cache_outputs, key)

    def _sqlite_one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        """One row by key straight from the sqlite3 driver (a read starts no transaction).

        Cache hits look up an entry and each of its artifacts per step; through
        SQLAlchemy's execute path each lookup costs ~0.1 ms, here ~10 us.
        """
        with self._lock:
            cursor = cursor_of(self.conn)
            try:
                cursor.execute(sql, args)
                row = cursor.fetchone()
                names = [d[0] for d in cursor.description] if row is not None else []
            except sqlite3.DatabaseError as exc:
                self._check(exc)
                raise
            finally:
                cursor.close()
        return None if row is None else dict(zip(names, row, strict=True))

    def record_cache_hit(self, key: str) -> None:
        with self._write_raw() as (conn, cur):
            self._p_hit_cache.run(conn, cur, {"k": key})

    def last_cache_entry(self, pipeline: str, step: str) -> CacheEntry | None:
        c = s.cache_entries.c
        query = (
            select(s.cache_entries)
            .where(c.pipeline == pipeline, c.step == step)
            .order_by(c.created_at.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _rows.cache_record_or_none(row)

    def delete_cache(self, pipeline: str | None = None, step: str | None = None) -> int:
        query = delete(s.cache_entries)
        if pipeline is not None:
            query = query.where(s.cache_entries.c.pipeline == pipeline)
        if step is not None:
            query = query.where(s.cache_entries.c.step == step)
        with self._write() as conn:
            count: int = conn.execute(query).rowcount
        return count

    def cache_stats(self) -> dict[str, Any]:
        """``{"entries": n, "hits": total hits, "pipelines": {pipeline: entries}}``."""
        c = s.cache_entries.c
        with self._read() as conn:
            entries, hits = conn.execute(select(func.count(), func.sum(c.hits))).one()
            per = conn.execute(
                select(c.pipeline, func.count()).group_by(c.pipeline).order_by(c.pipeline)
            ).all()
        return {
            "entries": int(entries or 0),
            "hits": int(hits or 0),
            "pipelines": {p: int(n) for p, n in per},
        }
