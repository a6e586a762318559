"""``SQLMetadataStore``: Flowy's metadata on SQLAlchemy Core (SQLite by default).

Built for the engine's hot path: ``record_step`` runs once per step, so the
store holds one connection for its lifetime, builds its statements once (so
SQLAlchemy's compiled cache always hits), uses executemany for artifacts,
lineage and metrics, and never reflects tables after opening. Queries use
only portable SQL; the SQLite specifics (WAL, pragmas, BEGIN IMMEDIATE) live
in :mod:`flowy_store_sqlite.database`.

The methods it shares with the stdlib store (runs, steps, metrics, the cache,
experiments) are written once in :mod:`flowy_store_sqlite.shared_methods`,
over the queries of :mod:`flowy_store_sqlite.queries`; this class supplies
how a query runs here (``_select``, ``_execute``), and what only it does.

One lock serialises use of the connection, because engine callbacks may come
from executor threads; the orchestrator is the only writer (ARCHITECTURE.md),
so the lock is never contended in practice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from flowy.kernel.catalog import Catalog
from flowy.kernel.contracts import LazyOptions, MetadataStore
from flowy.kernel.errors import ArtifactNotFoundError, RunNotFoundError
from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord
from sqlalchemy import Column, Connection, Delete, Insert, Table, Update, delete, func, select
from sqlalchemy.exc import DBAPIError

from flowy_store_sqlite import _rows, connect, database, faults, queries, revisions, sqlite_queries
from flowy_store_sqlite import schema as s
from flowy_store_sqlite.alert_rows import AlertQueries
from flowy_store_sqlite.circuit_rows import CircuitQueries
from flowy_store_sqlite.deletion import DeletionQueries
from flowy_store_sqlite.lineage import LineageQueries
from flowy_store_sqlite.model_registry import ModelRegistryQueries
from flowy_store_sqlite.monitor_rows import MonitorQueries
from flowy_store_sqlite.prepared import Prepared, cursor_of
from flowy_store_sqlite.run_search import RunSearchQueries
from flowy_store_sqlite.schedule_rows import ScheduleQueries
from flowy_store_sqlite.shared_methods import Rows, SharedMethods

MIN_PREFIX = 4


class SQLMetadataStore(
    AlertQueries,
    CircuitQueries,
    DeletionQueries,
    LineageQueries,
    ModelRegistryQueries,
    MonitorQueries,
    RunSearchQueries,
    ScheduleQueries,
    SharedMethods,
    MetadataStore,
    Catalog,
):
    """Runs, step runs, artifacts, lineage, metrics, params and cache entries in SQL.

    Lineage queries, artifact search and the model registry (the
    :class:`flowy.kernel.catalog.Catalog` capability) live in their own mixins.
    """

    Options: ClassVar[Any] = LazyOptions("flowy_store_sqlite.options:SQLMetadataStoreOptions")
    Q: ClassVar[Any] = queries

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
        # The shared writes, compiled once for this store's dialect (see prepared.py).
        self._prepared = {
            statement: Prepared(statement, self._engine.dialect)
            for statement in vars(queries).values()
            if isinstance(statement, (Insert, Update, Delete))
        }

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
    def _transaction(self, write: bool) -> Iterator[Connection]:
        """A transaction on the store's connection (a write one takes the write lock up front)."""
        with self._lock:
            conn = self.conn
            conn.info[database.WRITE_FLAG] = write
            try:
                with conn.begin():
                    yield conn
            except (DBAPIError, sqlite3.DatabaseError) as exc:
                self._check(exc)
                raise
            finally:
                conn.info[database.WRITE_FLAG] = False

    def _read(self) -> AbstractContextManager[Connection]:
        return self._transaction(write=False)

    def _write(self) -> AbstractContextManager[Connection]:
        return self._transaction(write=True)

    def _select(self, *queries: tuple[Any, Mapping[str, Any]]) -> list[Rows]:
        """The rows of each (query, parameters) pair as mappings, in one snapshot."""
        with self._read() as conn:
            return [conn.execute(query, params).mappings().all() for query, params in queries]

    def _execute(self, *writes: tuple[Any, Sequence[Mapping[str, Any]]]) -> list[int]:
        """Each statement once per row, in one write transaction; the rows each changed."""
        with self._write_raw() as (conn, cur):
            return [
                self._prepared[statement].many(conn, cur, rows) if rows else 0
                for statement, rows in writes
            ]

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
        """The URL, password masked (no query: error messages name the store with it)."""
        return {"url": database.safe_url(self.url)}

    def schema_status(self) -> tuple[str | None, str]:
        """The database's schema revision and the head this Flowy writes (`flowy doctor`)."""
        with self._read() as conn:
            _, revision = database.current_revision(conn)
        return revision, revisions.HEAD_REVISION

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
        # Called inside a read transaction: the URL only (describe() also reads the schema).
        where = database.safe_url(self.url)
        if len(ident) < MIN_PREFIX and not found:
            return (
                f"No {what} has the id {ident!r} in {where}, and a prefix "
                f"must be at least {MIN_PREFIX} characters. {hint}"
            )
        if found:
            ids = ", ".join(str(next(iter(r.values()))) for r in found[:5])
            return (
                f"The {what} id prefix {ident!r} is ambiguous in {where}: "
                f"it matches {ids}{', ...' if len(found) > 5 else ''}. Give more characters. {hint}"
            )
        return f"No {what} with id or id prefix {ident!r} in {where}. {hint}"

    # -- runs --------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            found = self._resolve(conn, s.runs, s.runs.c.run_id, run_id)
        if found is None or isinstance(found, list):
            raise RunNotFoundError(
                self._not_found("run", run_id, found, "List run ids with `flowy runs list`.")
            )
        return _rows.run_record(found)

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
            exact = self._sqlite_one(sqlite_queries.ARTIFACT, {"artifact_id": artifact_id})
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

    # -- cache -------------------------------------------------------------

    def lookup_cache(self, key: str) -> CacheEntry | None:
        if self._sqlite:  # the per-step hot path: one plain SELECT on the driver
            found = self._sqlite_one(sqlite_queries.CACHE_ENTRY, {"key": key})
            return None if found is None else _rows.cache_record_or_none(found)
        return super().lookup_cache(key)

    def lookup_cache_outputs(self, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        """The entry and each output's record, one query each; a malformed row is a miss."""
        return _rows.outputs_one_by_one(super().lookup_cache_outputs, key)

    def _sqlite_one(self, sql: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """One row by key straight from the sqlite3 driver (a read starts no transaction).

        Cache hits look up an entry and each of its artifacts per step; through
        SQLAlchemy's execute path each lookup costs ~0.1 ms, here ~10 us.
        """
        with self._lock:
            cursor = cursor_of(self.conn)
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
                names = [d[0] for d in cursor.description] if row is not None else []
            except sqlite3.DatabaseError as exc:
                self._check(exc)
                raise
            finally:
                cursor.close()
        return None if row is None else dict(zip(names, row, strict=True))

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
