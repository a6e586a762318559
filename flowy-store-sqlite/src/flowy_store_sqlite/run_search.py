"""``search_runs`` and ``run_columns`` in SQL: the runs list filtered, sorted, paged in SQL.

The filter tree of :mod:`flowy.kernel.run_query` becomes a SQLAlchemy Core
``WHERE``; the sort becomes ``ORDER BY`` over the sort value(s) then
``started_at`` and ``run_id`` (the tie-breakers, in the sort's direction), runs
without a value last; the page after a cursor is a keyset condition on those
same keys, so a page costs the same at any depth and never repeats or skips a
run while new ones arrive. The semantics are exactly those of the default,
:mod:`flowy.kernel.run_query_eval` (the contract suite runs both):

* ``metrics.<name>`` is the run's last logged value of that metric (the row
  with the highest id), a correlated subquery served by the
  ``(run_id, name, id)`` index; NULL (a NaN, or no such metric) has no value;
* ``params.<name>`` is the JSON text of the ``params`` table; its number is
  read only when that text is a JSON number (SQLite's ``json_type``, a regular
  expression on PostgreSQL), so a text parameter never fails a cast;
* text compares byte-wise (``COLLATE "C"`` on PostgreSQL), as Python does.

Only SQLite and PostgreSQL are translated; on another database the default
(Python) implementation answers.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from flowy.kernel.metadata_store import MetadataStore
from flowy.kernel.run_query import (
    And,
    Comparison,
    Cursor,
    Expr,
    InList,
    Or,
    Range,
    RunPage,
    RunQuery,
    field_kind,
)
from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    null,
    or_,
    select,
    text,
    true,
)

from flowy_store_sqlite import _rows
from flowy_store_sqlite import schema as s

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection

_dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode
#: A JSON number as ``json.dumps`` writes one (PostgreSQL's test before a cast).
_JSON_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
#: Distinct names by repeated index seeks (a loose index scan), not a scan of every row.
_NAMES = """
WITH RECURSIVE names(name) AS (
    SELECT MIN(name) FROM {table}
    UNION ALL
    SELECT (SELECT MIN(t.name) FROM {table} t WHERE t.name > n.name)
    FROM names n WHERE n.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL LIMIT :limit
"""
#: Ids per ``IN (...)`` when reading a page's columns.
_CHUNK = 500

Key = ColumnElement[Any]


class _Builder:
    """SQL expressions for one dialect's fields, conditions and sort keys."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self._sorted_param: Any = None

    # -- field values ------------------------------------------------------

    def text_value(self, field: str) -> Key:
        r = s.runs.c
        if field == "status":
            value: Key = r.status
        elif field == "pipeline":
            value = r.pipeline
        elif field == "experiment":
            value = func.coalesce(r.experiment, r.pipeline)
        elif field == "stack":
            if self.postgres:
                value = func.json_extract_path_text(cast(r.stack, JSON), "name")
            else:
                value = case((func.json_valid(r.stack) == 1, func.json_extract(r.stack, "$.name")))
        else:
            value = r.run_id
        return value.collate("C") if self.postgres else value

    def number_value(self, field: str) -> Key:
        r = s.runs.c
        if field == "started":
            return r.started_at
        if field == "duration":
            return r.finished_at - r.started_at
        m = s.metrics.alias("m")
        return (
            select(m.c.value)
            .where(m.c.run_id == r.run_id, m.c.name == field[len("metrics.") :])
            .order_by(m.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    def _param(self, field: str, value: Any) -> Key:
        """One correlated subquery: ``value`` (an expression of ``p.value``) of the parameter."""
        p = s.params.alias("p")
        return (
            select(value(p.c.value))
            .where(p.c.run_id == s.runs.c.run_id, p.c.name == field[len("params.") :])
            .scalar_subquery()
        )

    def param_raw(self, field: str) -> Key:
        return self._param(field, lambda raw: raw)

    def _number_of(self, raw: Key) -> Key:
        """A parameter's JSON text as a number when it is a JSON number, else NULL.

        Stores write ``json.dumps`` output, where a text made of a leading digit or
        minus and then only digits, ``.``, ``e``, ``E``, ``+`` and ``-`` is a number
        (strings are quoted, the rest are words or brackets): a pattern test, much
        cheaper than parsing the JSON of every row.
        """
        if self.postgres:
            return case((raw.op("~")(_JSON_NUMBER), cast(raw, Float)))
        numeric = and_(raw.op("GLOB")("[-0-9]*"), raw.op("NOT GLOB")("*[^-0-9.eE+]*"))
        return case((numeric, cast(raw, Float)))

    def param_number(self, field: str) -> Key:
        """The parameter as a number when its JSON is one, else NULL."""
        return self._param(field, self._number_of)

    def param_text(self, field: str) -> Key:
        """The parameter's JSON text when it is not a number, else NULL."""
        text_value = self._param(field, lambda raw: case((self._number_of(raw).is_(None), raw)))
        return text_value.collate("C") if self.postgres else text_value

    # -- conditions --------------------------------------------------------

    def condition(self, expr: Expr | None) -> Key:
        if expr is None:
            return true()
        if isinstance(expr, And):
            return and_(*(self.condition(t) for t in expr.terms))
        if isinstance(expr, Or):
            return or_(*(self.condition(t) for t in expr.terms))
        if isinstance(expr, InList):
            return or_(*(self.compare(expr.field, "=", v) for v in expr.values))
        if isinstance(expr, Range):
            return and_(
                self.compare(expr.field, ">=", expr.low), self.compare(expr.field, "<=", expr.high)
            )
        assert isinstance(expr, Comparison)
        return self.compare(expr.field, expr.op, expr.value)

    def compare(self, field: str, op: str, value: Any) -> Key:
        kind = field_kind(field)
        if kind == "text":
            column = self.text_value(field)
            if field == "run" and op in ("=", "!="):
                prefix = func.substr(s.runs.c.run_id, 1, len(str(value))) == str(value)
                return prefix if op == "=" else ~prefix
            return _op(column, op, str(value))
        if kind in ("number", "metric"):
            if not isinstance(value, float):
                return false()
            return _op(self.number_value(field), op, value)
        if isinstance(value, float):
            return _op(self.param_number(field), op, value)
        raw = self.param_raw(field)
        # IN / NOT IN: the subquery once; a missing parameter (NULL) matches neither.
        if op == "=":
            return raw.in_([_dumps(value), value])
        if op == "!=":
            return raw.not_in([_dumps(value), value])
        return false()

    # -- sort keys ----------------------------------------------------------

    def sort_keys(self, field: str) -> list[Key]:
        r = s.runs.c
        tail: list[Key] = [r.started_at, r.run_id.collate("C") if self.postgres else r.run_id]
        kind = field_kind(field)
        if field == "started":
            return tail
        if kind == "text":
            return [self.text_value(field), *tail]
        if kind in ("number", "metric"):
            return [self.number_value(field), *tail]
        # By a parameter: its number and text from one outer-joined row (see sort_source).
        value = self.sorted_param.c.value
        text_value: Key = case((self._number_of(value).is_(None), value))
        if self.postgres:
            text_value = text_value.collate("C")
        return [self._number_of(value), text_value, *tail]

    @property
    def sorted_param(self) -> Any:
        """The ``params`` row of the sort's parameter, outer-joined to each run."""
        if self._sorted_param is None:
            self._sorted_param = s.params.alias("sort_param")
        return self._sorted_param

    def sort_source(self, field: str) -> Any:
        """What the runs are selected from: ``runs``, joined to the sort's parameter row.

        One join row gives both sort values of a parameter, where correlated
        subqueries would seek the parameter once per value (about 3x slower).
        """
        if field_kind(field) != "param":
            return s.runs
        p = self.sorted_param
        on = and_(p.c.run_id == s.runs.c.run_id, p.c.name == field[len("params.") :])
        return s.runs.outerjoin(p, on)


def _op(column: Key, op: str, value: Any) -> Key:
    found: Key
    if op == "=":
        found = column == value
    elif op == "!=":
        found = column != value
    elif op == ">":
        found = column > value
    elif op == ">=":
        found = column >= value
    elif op == "<":
        found = column < value
    else:
        found = column <= value
    return found


def _after(keys: list[Key], cursor: Cursor, descending: bool) -> Key:
    """Rows strictly after ``cursor`` in the order of ``keys`` (None: no value, last)."""
    clauses = []
    for i, (key, value) in enumerate(zip(keys, cursor, strict=True)):
        if value is not None:
            beyond = (key < value) if descending else (key > value)
            if i < len(keys) - 2:  # the sort values may be NULL; started_at and run_id never
                beyond = or_(beyond, key.is_(None))
            same = [
                k.is_(None) if v is None else k == v
                for k, v in zip(keys[:i], cursor[:i], strict=True)
            ]
            clauses.append(and_(*same, beyond))
    return or_(*clauses) if clauses else false()


def _valid_cursor(cursor: Cursor, size: int) -> bool:
    return len(cursor) == size and all(
        v is None or isinstance(v, str) or (isinstance(v, float | int) and not math.isnan(v))
        for v in cursor
    )


class RunSearchQueries:
    """The runs list queries of :class:`~flowy_store_sqlite.metadata.SQLMetadataStore`."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        @property
        def conn(self) -> Connection: ...

    def search_runs(self, query: RunQuery) -> RunPage:
        """One page of the runs list, filtered, sorted and cut by the database (see module)."""
        dialect = self.conn.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            return MetadataStore.search_runs(self, query)  # type: ignore[arg-type]
        build = _Builder(dialect)
        keys = build.sort_keys(query.sort.field)
        cursor = None if query.after is None else tuple(query.after)
        if cursor is not None and not _valid_cursor(cursor, len(keys)):
            raise ValueError(f"a cursor of {len(keys)} values was expected: {cursor!r}")
        with self._read() as conn:
            if field_kind(query.sort.field) == "metric":
                rows = _by_metric(conn, build, keys, query, cursor)
            else:
                rows = _by_keys(conn, build, keys, query, cursor)
            page = rows[: query.limit]
            runs = [_rows.run_record(row) for row in page]
            values = _column_values(conn, [r.run_id for r in runs], query.columns)
        next_cursor = None
        if len(rows) > query.limit and page:
            next_cursor = tuple(page[-1][f"sort_key_{i}"] for i in range(len(keys)))
        return RunPage(runs=runs, next_cursor=next_cursor, values=values)

    def run_columns(self, limit: int = 500) -> dict[str, list[str]]:
        """Parameter and metric names over every run, by index seeks (see ``_NAMES``)."""
        found: dict[str, list[str]] = {}
        with self._read() as conn:
            for key, table in (("params", "params"), ("metrics", "metrics")):
                statement = text(_NAMES.format(table=table))
                names = conn.execute(statement, {"limit": limit}).scalars().all()
                found[key] = sorted(str(n) for n in names)
        return found


def _ordered(keys: list[Key], descending: bool) -> list[Any]:
    """ORDER BY terms: the sort value(s) with NULLs last, then the never-NULL tie-breakers."""
    order = []
    for i, key in enumerate(keys):
        ordered = key.desc() if descending else key.asc()
        order.append(ordered.nulls_last() if i < len(keys) - 2 else ordered)
    return order


def _started_bound(cursor: Cursor, descending: bool) -> Key:
    """``started_at`` on the cursor's side: a range the (started_at, run_id) index seeks."""
    started = s.runs.c.started_at
    bound: Key = started <= cursor[0] if descending else started >= cursor[0]
    return bound


def _by_keys(
    conn: Connection, build: _Builder, keys: list[Key], query: RunQuery, cursor: Cursor | None
) -> list[Any]:
    """The page (and one more row) by scanning runs in the order of ``keys``."""
    descending = query.sort.descending
    where = [build.condition(query.filter)]
    if cursor is not None:
        where.append(_after(keys, cursor, descending))
        if len(keys) == 2:  # sorted by started
            where.append(_started_bound(cursor, descending))
    labelled = [k.label(f"sort_key_{i}") for i, k in enumerate(keys)]
    # ORDER BY the labels: a correlated sort value is computed once per row, not twice.
    statement = (
        select(s.runs, *labelled)
        .select_from(build.sort_source(query.sort.field))
        .where(*where)
        .order_by(*_ordered(list(labelled), descending))
        .limit(query.limit + 1)
    )
    return list(conn.execute(statement).mappings().all())


def _by_metric(
    conn: Connection, build: _Builder, keys: list[Key], query: RunQuery, cursor: Cursor | None
) -> list[Any]:
    """The page sorted by a metric's last value, walked from the ``(name, value)`` index.

    First the runs with a value, in value order: each metric row of that name that is
    its run's last (no later row) and not NULL, joined to its run, so a page visits
    about as many rows as it returns (and the filter rejects) instead of computing the
    value of every run. Then, once those are exhausted, the runs without a value (no
    such metric, or a NaN last), by started and id.
    """
    name = query.sort.field[len("metrics.") :]
    descending = query.sort.descending
    wanted = query.limit + 1
    r = s.runs.c
    started, run_id = keys[1], keys[2]
    rows: list[Any] = []
    if cursor is None or cursor[0] is not None:
        m, later = s.metrics.alias("mv"), s.metrics.alias("ml")
        is_last = ~exists().where(
            later.c.run_id == m.c.run_id, later.c.name == m.c.name, later.c.id > m.c.id
        )
        value = m.c.value
        where = [m.c.name == name, value.is_not(None), is_last, build.condition(query.filter)]
        if cursor is not None:
            where.append(_after([value, started, run_id], cursor, descending))
            where.append(value <= cursor[0] if descending else value >= cursor[0])
        statement = (
            select(
                s.runs,
                value.label("sort_key_0"),
                started.label("sort_key_1"),
                run_id.label("sort_key_2"),
            )
            .select_from(m.join(s.runs, r.run_id == m.c.run_id))
            .where(*where)
            # No NULLS LAST (none here): the index on (name, value) gives the order.
            .order_by(*(k.desc() if descending else k.asc() for k in (value, started, run_id)))
            .limit(wanted)
        )
        rows = list(conn.execute(statement).mappings().all())
    if len(rows) < wanted:
        where = [build.number_value(query.sort.field).is_(None), build.condition(query.filter)]
        if cursor is not None and cursor[0] is None:
            where.append(_after([started, run_id], cursor[1:], descending))
            where.append(_started_bound(cursor[1:], descending))
        statement = (
            select(
                s.runs,
                null().label("sort_key_0"),
                started.label("sort_key_1"),
                run_id.label("sort_key_2"),
            )
            .where(*where)
            .order_by(*_ordered([started, run_id], descending))
            .limit(wanted - len(rows))
        )
        rows += conn.execute(statement).mappings().all()
    return rows


def _column_values(
    conn: Connection, run_ids: list[str], columns: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """The chosen ``params.*`` and ``metrics.*`` (last value) of a page's runs."""
    params = sorted({c[len("params.") :] for c in columns if field_kind(c) == "param"})
    metrics = sorted({c[len("metrics.") :] for c in columns if field_kind(c) == "metric"})
    found: dict[str, dict[str, Any]] = {run_id: {} for run_id in run_ids} if columns else {}
    for start in range(0, len(run_ids), _CHUNK):
        ids = run_ids[start : start + _CHUNK]
        if params:
            p = s.params.c
            statement = select(p.run_id, p.name, p.value).where(
                p.run_id.in_(ids), p.name.in_(params)
            )
            for row in conn.execute(statement):
                found[row.run_id][f"params.{row.name}"] = _rows.loads(row.value)
        if metrics:
            # Only each (run, metric)'s last row: a series of thousands of points is not read.
            m = s.metrics.c
            last = (
                select(func.max(m.id).label("id"))
                .where(m.run_id.in_(ids), m.name.in_(metrics))
                .group_by(m.run_id, m.name)
                .subquery("last")
            )
            statement = select(m.run_id, m.name, m.value).join(last, last.c.id == m.id)
            for row in conn.execute(statement):
                value = math.nan if row.value is None else float(row.value)
                found[row.run_id][f"metrics.{row.name}"] = value
    return found


__all__ = ["RunSearchQueries"]
