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

The two stores answer their common methods with one implementation
(:mod:`flowy_store_sqlite.shared_methods`) over one set of queries, written
as SQLAlchemy Core in :mod:`flowy_store_sqlite.queries`; this store runs their
SQLite compilation, the generated :mod:`flowy_store_sqlite.sqlite_queries`,
and a new database is created from the generated ``sqlite_schema.sql``
(tests keep both equal to what SQLAlchemy makes). Only SQLite's own queries
are written here: the schema check and the cache hits read with SQLite's
JSON functions. The contract suite runs against this class as it does
against the SQLAlchemy store. The ``sql`` store kind stays SQLAlchemy for
every URL.
"""

from __future__ import annotations

import abc
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowy.kernel.catalog import Catalog
from flowy.kernel.contracts import LazyOptions, MetadataStore
from flowy.kernel.errors import ConfigError
from flowy.kernel.monitoring import MonitorReadings
from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord
from flowy.kernel.schedules import ScheduleStore

from flowy_store_sqlite import _rows, connect, faults, sqlite_queries
from flowy_store_sqlite.alert_rows import AlertQueries
from flowy_store_sqlite.circuit_rows import SQLiteCircuitQueries
from flowy_store_sqlite.revisions import HEAD_REVISION
from flowy_store_sqlite.shared_methods import Rows, SharedMethods

if TYPE_CHECKING:
    from flowy_store_sqlite.metadata import SQLMetadataStore

#: Cache hits are read by two queries over one source of entries, in one snapshot: the
#: entries whole, then each output's name and artifact row (NULLs when the row is gone)
#: with only its entry's key. One join repeating the entry's outputs JSON on each of its
#: rows would make a 10,000-output step's lookup read that JSON 10,000 times. SQLite's
#: JSON functions make these SQLite's own: the SQLAlchemy store has no such query.
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


class SQLiteMetadataStore(
    AlertQueries,
    SharedMethods,
    MetadataStore,
    Catalog,
    SQLiteCircuitQueries,
    ScheduleStore,
    MonitorReadings,
):
    """Runs, steps, artifacts, lineage, metrics and cache in a SQLite file (see the module)."""

    Options: ClassVar[Any] = LazyOptions("flowy_store_sqlite.options:SQLMetadataStoreOptions")
    Q: ClassVar[Any] = sqlite_queries

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
            with self._transaction(write=True) as cur:
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
    def _transaction(self, write: bool) -> Iterator[sqlite3.Cursor]:
        """A transaction and its cursor: BEGIN IMMEDIATE (the write lock up front) to
        write, BEGIN (one snapshot for several SELECTs) to read."""
        with self._lock:
            cur = self.db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
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

    def _select(self, *queries: tuple[str, Any]) -> list[Rows]:
        """The rows of each (SQL, parameters) pair as dicts, in one snapshot."""
        if len(queries) > 1:
            with self._transaction(write=False):
                return [self._fetch(self.db.cursor(), *query) for query in queries]
        with self._lock:  # one statement reads one snapshot: no BEGIN
            try:
                return [self._fetch(self.db.cursor(), *queries[0])]
            except sqlite3.DatabaseError as exc:
                faults.check(exc, self.url)
                raise

    def _fetch(self, cur: sqlite3.Cursor, sql: str, params: Any) -> list[dict[str, Any]]:
        """Every row of one SELECT on ``cur`` as a dict; closes ``cur``.

        A list of ``ids`` (see :mod:`~flowy_store_sqlite.queries`) takes one ``?`` each.
        """
        if isinstance(params, dict) and "ids" in params:
            params = params["ids"]
            sql = sql.replace(sqlite_queries.IDS, ", ".join("?" * len(params)))
        try:
            rows = cur.execute(sql, params).fetchall()
            if not rows:
                return []
            names = self._names.get(sql)
            if names is None:  # a statement's columns never change while the store is open
                names = self._names[sql] = tuple(d[0] for d in cur.description)
            return [dict(zip(names, row, strict=True)) for row in rows]
        finally:
            cur.close()

    def _execute(self, *writes: tuple[str, Sequence[Mapping[str, Any]]]) -> list[int]:
        """Each statement once per row, in one write transaction; the rows each changed."""
        counts = []
        with self._transaction(write=True) as cur:
            for sql, rows in writes:
                if len(rows) == 1:
                    cur.execute(sql, rows[0])
                elif rows:
                    cur.executemany(sql, rows)
                counts.append(cur.rowcount if rows else 0)
        return counts

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

    def schema_status(self) -> tuple[str | None, str]:
        """The database's schema revision and the head this Flowy writes (`flowy doctor`).

        Apart from :meth:`describe`, which only names the store and must work on a
        database that cannot be read (error messages name the store with it).
        """
        return self._revision(), HEAD_REVISION

    # -- reads by id: an id prefix, or the not-found message, from the SQLAlchemy store --

    def get_run(self, run_id: str) -> RunRecord:
        (rows,) = self._select((sqlite_queries.RUN, {"run_id": run_id}))
        return _rows.run_record(rows[0]) if rows else self.full.get_run(run_id)

    def get_artifact(self, artifact_id: str) -> ArtifactRef:
        (rows,) = self._select((sqlite_queries.ARTIFACT, {"artifact_id": artifact_id}))
        return _rows.artifact_record(rows[0]) if rows else self.full.get_artifact(artifact_id)

    # -- cache hits with their outputs, in one snapshot -----------------------

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
            with self._transaction(write=False):
                entry_rows = self._fetch(self.db.cursor(), sql[0], args)
                ref_rows = self._fetch(self.db.cursor(), sql[1], args) if entry_rows else []
        except sqlite3.OperationalError as exc:
            if "json_" not in str(exc):
                raise
            self._json_each = False
            return None
        return _rows.cache_hits(entry_rows, ref_rows)


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
    "search_runs",
    "run_columns",
    *("add_schedule", "get_schedule", "list_schedules", "set_schedule_paused"),
    *("remove_schedule", "claim_fires", "update_fire", "schedule_fires", "run_of_process"),
    *("beat", "end_heartbeat", "scheduler_heartbeats"),
    *("monitor_snapshot", "monitor_step_id_bounds", "monitor_step_totals"),
    "monitor_artifact_bytes",
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
