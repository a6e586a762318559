"""The queries both metadata stores run, each written once, as SQLAlchemy Core.

:class:`~flowy_store_sqlite.metadata.SQLMetadataStore` executes these
constructs on whatever database its URL names.
:class:`~flowy_store_sqlite.sqlite.SQLiteMetadataStore` must not import
SQLAlchemy (see its module), so it runs the same constructs compiled for
SQLite: :mod:`flowy_store_sqlite.sqlite_queries`, written by
:func:`sqlite_source` (``python scripts/gen_sqlite_queries.py`` rewrites it; a
test fails when it is stale, as for ``sqlite_schema.sql``).

What keeps one construct right for both stores:

* every parameter is a named :func:`~sqlalchemy.bindparam` without a value, so
  the SQLite text takes the same ``:name`` parameters (a dict) the SQLAlchemy
  store passes; a constant in a construct (a status, a CASE's 1) is written
  into the SQLite text as a literal. In an UPDATE or DELETE, a parameter of
  the WHERE clause is named ``where_<column>``: SQLAlchemy reserves a
  column's name for the values it sets;
* a list of ids is the expanding parameter ``ids``: SQLAlchemy expands it on
  each execute, the stdlib store puts one ``?`` per id in place of
  :data:`IDS` (the only parameter of those queries);
* the runs listing, whose filters are optional, is a dict of one query per
  combination of filters given (``RUNS``), in both modules.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from flowy.kernel.records import (
    CRASHED,
    RUNNING,
    CacheEntry,
    MetricRecord,
    RunRecord,
    StepRunRecord,
)
from sqlalchemy import (
    BindParameter,
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from flowy_store_sqlite import _rows, changes, step_output
from flowy_store_sqlite import schema as s

Statement = Select[Any] | Insert | Update | Delete

#: The placeholder SQLAlchemy compiles the expanding ``ids`` parameter to.
IDS = "__[POSTCOMPILE_ids]"
_ids: BindParameter[Any] = bindparam("ids", expanding=True)


def _insert(table: Table, columns: Iterable[str]) -> Insert:
    """INSERT of one row, one parameter per column, named as the column."""
    return insert(table).values({name: bindparam(name) for name in columns})


# -- writes ---------------------------------------------------------------------------

INSERT_RUN = _insert(s.runs, _rows.run_row(RunRecord("", "", "")))
INSERT_PARAM = _insert(s.params, ("run_id", "name", "value"))
INSERT_STEP = _insert(s.step_runs, _rows.step_row(StepRunRecord("", "", "")))
INSERT_ARTIFACT = _insert(s.artifacts, _rows.artifact_row(_rows.PROBE_ARTIFACT, "", "", 0.0))
INSERT_TAG = _insert(s.artifact_tags, ("artifact_id", "tag"))
INSERT_EDGE = _insert(s.lineage, _rows.EDGE_KEYS)
INSERT_METRIC = _insert(s.metrics, _rows.metric_row(MetricRecord("", 0.0), "", ""))
INSERT_CACHE = _insert(s.cache_entries, _rows.cache_row(CacheEntry("", "", "", "", {}, {})))
#: With INSERT_CACHE, a portable "insert or replace" (no dialect-specific upsert).
DELETE_CACHE = delete(s.cache_entries).where(s.cache_entries.c.key == bindparam("where_key"))
COUNT_HIT = (
    update(s.cache_entries)
    .where(s.cache_entries.c.key == bindparam("where_key"))
    .values(hits=s.cache_entries.c.hits + literal_column("1"), last_used_at=bindparam("at"))
)
# -- cache limits (`flowy cache limits`, flowy_store_sqlite.cache_limits) -------------
CACHE_LIMITS = select(s.cache_limits)
DELETE_CACHE_LIMITS = delete(s.cache_limits).where(
    s.cache_limits.c.pipeline == bindparam("where_pipeline")
)
INSERT_CACHE_LIMITS = _insert(s.cache_limits, ("pipeline", "ttl", "max_bytes"))
#: The entries of one pipeline with what eviction needs: age, last use, size.
CACHE_USAGE = select(
    s.cache_entries.c.key,
    s.cache_entries.c.step,
    s.cache_entries.c.created_at,
    func.coalesce(s.cache_entries.c.last_used_at, s.cache_entries.c.created_at).label("used"),
    func.coalesce(s.cache_entries.c.size, literal_column("0")).label("size"),
).where(s.cache_entries.c.pipeline == bindparam("pipeline"))
CACHE_PIPELINES = select(s.cache_entries.c.pipeline).distinct()
FINISH_RUN = (
    update(s.runs)
    .where(s.runs.c.run_id == bindparam("where_run_id"))
    .values(status=bindparam("status"), finished_at=bindparam("finished_at"))
)
#: ``running`` runs of one host that name their process: the candidates for CRASH_RUN.
RUNNING_ON_HOST = select(s.runs.c.run_id, s.runs.c.pid, s.runs.c.started_at).where(
    s.runs.c.status == RUNNING, s.runs.c.host == bindparam("host"), s.runs.c.pid.is_not(None)
)
#: One run, if it is still ``running`` (it may have finished since it was judged dead).
CRASH_RUN = (
    update(s.runs)
    .where(s.runs.c.run_id == bindparam("where_run_id"), s.runs.c.status == RUNNING)
    .values(status=CRASHED)
)

# -- the change feed, running steps, cancel requests (written in their own module) ----

INSERT_CHANGE = changes.INSERT_CHANGE
RUN_CHANGED = changes.RUN_CHANGED
CHANGES_SINCE = changes.CHANGES_SINCE
LATEST_CHANGE = changes.LATEST_CHANGE
RUNNING_STEPS = changes.RUNNING_STEPS
CANCEL_REQUEST = changes.CANCEL_REQUEST
INSERT_CANCEL = changes.INSERT_CANCEL

# -- running steps' live output (written in its own module) ---------------------------

INSERT_OUTPUT = step_output.INSERT_OUTPUT
DELETE_OUTPUT = step_output.DELETE_OUTPUT
STEP_OUTPUT = step_output.STEP_OUTPUT

# -- reads by key ---------------------------------------------------------------------

RUN = select(s.runs).where(s.runs.c.run_id == bindparam("run_id"))
STEP_RUNS = (
    select(s.step_runs)
    .where(s.step_runs.c.run_id == bindparam("run_id"))
    .order_by(s.step_runs.c.id)
)
ARTIFACT = select(s.artifacts).where(s.artifacts.c.artifact_id == bindparam("artifact_id"))
METRICS = (
    select(s.metrics).where(s.metrics.c.run_id == bindparam("run_id")).order_by(s.metrics.c.id)
)
CACHE_ENTRY = select(s.cache_entries).where(s.cache_entries.c.key == bindparam("key"))

# -- runs, experiments ----------------------------------------------------------------

#: A run's experiment: its ``experiment`` column, or its pipeline for runs recorded before.
EXPERIMENT = func.coalesce(s.runs.c.experiment, s.runs.c.pipeline)
#: The optional parameters of the runs listing, in the order of RUNS' keys.
RUN_FILTERS = ("experiment", "limit", "pipeline", "status")


def _runs(present: tuple[str, ...]) -> Select[Any]:
    """Runs newest first, filtered by the parameters named in ``present``.

    ``experiment``, ``pipeline`` and ``status`` select runs whose column has
    that value; ``limit`` caps how many come back.
    """
    r = s.runs.c
    query = select(s.runs).order_by(r.started_at.desc(), r.run_id.desc())
    for name in present:
        if name == "limit":
            query = query.limit(bindparam("limit"))
        else:
            column = EXPERIMENT if name == "experiment" else r[name]
            query = query.where(column == bindparam(name))
    return query


#: The runs listing for each set of filters given, by their names in RUN_FILTERS' order.
RUNS = {
    present: _runs(present)
    for n in range(len(RUN_FILTERS) + 1)
    for present in itertools.combinations(RUN_FILTERS, n)
}

_completed = case((s.runs.c.status == "completed", 1), else_=0)
_failed = case((s.runs.c.status == "failed", 1), else_=0)
#: One row per experiment: run counts by outcome, first and last start, newest first.
EXPERIMENTS = (
    select(
        EXPERIMENT.label("name"),
        func.count().label("runs"),
        func.sum(_completed).label("completed"),
        func.sum(_failed).label("failed"),
        func.min(s.runs.c.started_at).label("first_started_at"),
        func.max(s.runs.c.started_at).label("last_started_at"),
    )
    .group_by(EXPERIMENT)
    .order_by(func.max(s.runs.c.started_at).desc())
)
#: Each (experiment, pipeline) pair once.
EXPERIMENT_PIPELINES = select(EXPERIMENT.label("name"), s.runs.c.pipeline).distinct()

# -- rows of many runs or artifacts (the ``ids``) ------------------------------------

METRICS_OF_RUNS = select(s.metrics).where(s.metrics.c.run_id.in_(_ids)).order_by(s.metrics.c.id)
ARTIFACT_PRODUCERS = select(
    s.artifacts.c.artifact_id, s.artifacts.c.run_id, s.artifacts.c.step
).where(s.artifacts.c.artifact_id.in_(_ids))
#: Step runs without their logs (a report reads many; logs are large and not shown).
STEP_RUNS_OF_RUNS = (
    select(*[c for c in s.step_runs.c if c.name != "logs"])
    .where(s.step_runs.c.run_id.in_(_ids))
    .order_by(s.step_runs.c.id)
)


# -- the SQLite module ----------------------------------------------------------------


def _named() -> dict[str, Statement | dict[tuple[str, ...], Statement]]:
    """Every shared query (or dict of them) by its name here."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, (Select, Insert, Update, Delete, dict))
    }


def sqlite_sql(statement: Statement) -> str:
    """``statement`` as SQLite text with ``:name`` parameters and constants written in."""
    from sqlalchemy.dialects.sqlite.base import SQLiteCompiler, SQLiteDialect

    class Compiler(SQLiteCompiler):
        def visit_bindparam(self, bindparam: Any, **kw: Any) -> Any:  # type: ignore[override]
            if bindparam.value is not None and not bindparam.required:
                kw["literal_binds"] = True  # a constant of the construct: part of the text
            return super().visit_bindparam(bindparam, **kw)  # type: ignore[no-untyped-call]

    class Dialect(SQLiteDialect):
        statement_compiler = Compiler

    text = str(statement.compile(dialect=Dialect(paramstyle="named")))
    return re.sub(r"\s*\n\s*", " ", text).strip()  # one line per statement


def sqlite_source() -> str:
    """The text of :mod:`flowy_store_sqlite.sqlite_queries`."""
    lines = [
        '"""The queries of :mod:`flowy_store_sqlite.queries`, compiled for SQLite.',
        "",
        "Generated by ``python scripts/gen_sqlite_queries.py``: do not edit. The stdlib",
        "store runs these on :mod:`sqlite3` with a dict of ``:name`` parameters; in the",
        "``*_OF_RUNS`` and ``ARTIFACT_PRODUCERS`` queries, :data:`IDS` stands for the ids.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "# fmt: off",
        "",
        f"IDS = {_quote(IDS)}",
    ]
    for name, value in sorted(_named().items()):
        if isinstance(value, dict):
            lines.append(f"{name} = {{")
            lines += [f"    {_key(key)}: {_quote(sqlite_sql(v))}," for key, v in value.items()]
            lines.append("}")
        else:
            lines.append(f"{name} = {_quote(sqlite_sql(value))}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A Python literal of ``text``, quoted as ruff quotes strings (the fewest escapes)."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _key(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(map(_quote, names)) + ("," if len(names) == 1 else "") + ")"
