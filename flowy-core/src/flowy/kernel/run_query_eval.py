"""Evaluate a :class:`~flowy.kernel.run_query.RunQuery` in Python, over any store.

The default :meth:`~flowy.kernel.metadata_store.MetadataStore.search_runs`: it
reads every run (and, only when the query names a metric, each run's metrics),
filters, sorts and cuts a page. Correct on every store and slow on big ones;
stores that can query (flowy-store-sqlite) override ``search_runs`` and must
answer exactly as this module does (the contract suite
:mod:`flowy.testing.run_search` checks both). The semantics are those of
:mod:`flowy.kernel.run_query`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

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
    Sort,
    field_kind,
    fields_of,
)

if TYPE_CHECKING:
    from flowy.kernel.records import MetricRecord, RunRecord


class _Store(Protocol):
    """What the default search reads of a store (the MetadataStore contract has both)."""

    def iter_runs(self) -> Iterator[RunRecord]: ...

    def get_metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]: ...


_MISSING = object()
_dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode


def param_number(value: Any) -> float | None:
    """A parameter's value as a number when it is one (finite, not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def param_text(value: Any) -> str | None:
    """A parameter's JSON text when it is not a number (how stores keep it), else None."""
    return None if param_number(value) is not None else _dumps(value)


def _stack_name(run: RunRecord) -> str | None:
    name = run.stack.get("name") if isinstance(run.stack, dict) else None
    return name if isinstance(name, str) else None


class RunValues:
    """What a query can ask of one run: its fields, parameters and last metric values."""

    def __init__(self, run: RunRecord, metrics: Mapping[str, float]) -> None:
        self.run = run
        self.metrics = metrics

    def text(self, field: str) -> str | None:
        run = self.run
        if field == "status":
            return run.status
        if field == "pipeline":
            return run.pipeline
        if field == "experiment":
            return run.experiment or run.pipeline
        if field == "stack":
            return _stack_name(run)
        return run.run_id  # "run"

    def number(self, field: str) -> float | None:
        """``started``, ``duration`` or ``metrics.<name>``; None when it has none (NaN)."""
        run = self.run
        if field == "started":
            return run.started_at
        if field == "duration":
            if run.finished_at is None:
                return None
            return run.finished_at - run.started_at
        value = self.metrics.get(field[len("metrics.") :])
        return None if value is None or math.isnan(value) else value

    def param(self, field: str) -> Any:
        return self.run.params.get(field[len("params.") :], _MISSING)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _equal(values: RunValues, field: str, value: Any) -> bool:
    return _holds(values, field, "=", value)


def _holds(values: RunValues, field: str, op: str, value: Any) -> bool:
    """Whether ``field op value`` holds for a run (see flowy.kernel.run_query)."""
    kind = field_kind(field)
    if kind == "text":
        text = values.text(field)
        if text is None:
            return False
        if field == "run" and op in ("=", "!="):
            return text.startswith(str(value)) == (op == "=")
        return _compare(text, op, str(value))
    if kind in ("number", "metric"):
        number = values.number(field)
        return number is not None and isinstance(value, float) and _compare(number, op, value)
    raw = values.param(field)
    if raw is _MISSING:
        return False
    if isinstance(value, float):
        number = param_number(raw)
        return number is not None and _compare(number, op, value)
    stored = _dumps(raw)
    same = stored in (_dumps(value), value)
    return same if op == "=" else (not same if op == "!=" else False)


def matches(expr: Expr | None, values: RunValues) -> bool:
    """Whether a run satisfies a filter tree (None: every run does)."""
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(matches(term, values) for term in expr.terms)
    if isinstance(expr, Or):
        return any(matches(term, values) for term in expr.terms)
    if isinstance(expr, InList):
        return any(_equal(values, expr.field, v) for v in expr.values)
    if isinstance(expr, Range):
        return _holds(values, expr.field, ">=", expr.low) and _holds(
            values, expr.field, "<=", expr.high
        )
    assert isinstance(expr, Comparison)
    return _holds(values, expr.field, expr.op, expr.value)


def sort_key(values: RunValues, sort: Sort) -> Cursor:
    """The run's position in ``sort``: the sort value(s), then ``started``, then the id.

    Parameters sort by two values: the number (numbers first), then the JSON
    text of a value that is not a number. None means "no value" (last).
    """
    run = values.run
    tail = (run.started_at, run.run_id)
    field = sort.field
    kind = field_kind(field)
    if field == "started":
        return tail
    if kind == "text":
        return (values.text(field), *tail)
    if kind in ("number", "metric"):
        return (values.number(field), *tail)
    raw = values.param(field)
    if raw is _MISSING:
        return (None, None, *tail)
    return (param_number(raw), param_text(raw), *tail)


def compare_keys(a: Cursor, b: Cursor, descending: bool) -> int:
    """-1 when ``a`` comes first in the list, 1 when after, 0 when equal (None last)."""
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        if x is None:
            return 1
        if y is None:
            return -1
        return (1 if x < y else -1) if descending else (-1 if x < y else 1)
    return 0


def last_metric_values(pairs: Iterable[tuple[str, Any]]) -> dict[str, float]:
    """Each metric's last logged value from ``get_metrics``' (step, metric) pairs."""
    return {metric.name: float(metric.value) for _, metric in pairs}


def search(store: _Store, query: RunQuery) -> RunPage:
    """The default ``search_runs``: every run read, filtered, sorted and paged here."""
    named = fields_of(query.filter) | {query.sort.field} | set(query.columns)
    wants_metrics = any(field_kind(f) == "metric" for f in named)
    metrics_of: Callable[[str], dict[str, float]] = (
        (lambda run_id: last_metric_values(store.get_metrics(run_id)))
        if wants_metrics
        else (lambda run_id: {})
    )
    descending = query.sort.descending
    candidates: list[tuple[Cursor, RunValues]] = []
    for run in store.iter_runs():
        values = RunValues(run, metrics_of(run.run_id))
        if not matches(query.filter, values):
            continue
        key = sort_key(values, query.sort)
        if query.after is not None and compare_keys(key, tuple(query.after), descending) <= 0:
            continue
        candidates.append((key, values))

    def by_key(a: tuple[Cursor, RunValues], b: tuple[Cursor, RunValues]) -> int:
        return compare_keys(a[0], b[0], descending)

    candidates.sort(key=functools.cmp_to_key(by_key))
    chosen = candidates[: query.limit]
    more = len(candidates) > query.limit
    return RunPage(
        runs=[values.run for _, values in chosen],
        next_cursor=chosen[-1][0] if more and chosen else None,
        values={values.run.run_id: column_values(values, query.columns) for _, values in chosen},
    )


def column_values(values: RunValues, columns: Iterable[str]) -> dict[str, Any]:
    """The chosen ``params.*`` / ``metrics.*`` values a run has (a NaN metric stays NaN)."""
    found: dict[str, Any] = {}
    for column in columns:
        kind = field_kind(column)
        if kind == "param":
            raw = values.param(column)
            if raw is not _MISSING:
                found[column] = raw
        elif kind == "metric":
            name = column[len("metrics.") :]
            if name in values.metrics:
                found[column] = values.metrics[name]
    return found
