"""The records of a runs-list query: a filter tree, a sort, a page and its cursor.

Records only: :mod:`flowy.tracking.run_query` parses and renders the filter
language into these trees, :mod:`flowy.kernel.run_query_eval` evaluates them in
Python (the default :meth:`~flowy.kernel.metadata_store.MetadataStore.search_runs`),
and a store may translate them into its own query language (flowy-store-sqlite
builds SQL from them).

Fields are ``status``, ``pipeline``, ``experiment`` (the run's experiment, else its
pipeline), ``stack`` (the stack's name), ``run`` (an id prefix), ``started``
(seconds since the epoch), ``duration`` (seconds; none while running),
``params.<name>`` and ``metrics.<name>`` (the last value the run logged).

How values compare, the same in every store:

* text fields compare as text; ``run`` equality is "the id starts with";
* ``metrics.*``, ``duration`` and ``started`` compare as numbers; a NaN metric,
  a missing metric and a running run's duration have no value;
* ``params.*`` compare as numbers when both the value given and the parameter
  are numbers; a text value matches a parameter whose JSON text is the JSON of
  that text (``params.opt=adam``) or is that text (``params.flag=true``);
* a run without a value for the field never matches a condition on it, ``!=``
  included;
* sorting puts runs without a value last in both directions; ties are broken
  by ``started`` then the run id, in the same direction as the sort, so a
  page's cursor (the sort key of its last run) names one exact position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from flowy.kernel.records import RunRecord

#: Fields whose values are text.
TEXT_FIELDS = ("status", "pipeline", "experiment", "stack", "run")
#: Fields whose values are numbers (``started`` also takes ISO dates, converted when parsed).
NUMBER_FIELDS = ("started", "duration")
#: Every plain field (``params.<name>`` and ``metrics.<name>`` besides).
FIELDS = TEXT_FIELDS + NUMBER_FIELDS
#: Comparison operators (``:`` and ``=`` are equality and parse to ``=``).
OPERATORS = ("=", "!=", ">", ">=", "<", "<=")

#: A value as a condition holds it: numbers as floats, everything else as text.
Value = float | str


@attrs.frozen
class Comparison:
    """``field op value``, e.g. ``metrics.r2 > 0.9``."""

    field: str
    op: str
    value: Value


@attrs.frozen
class InList:
    """``field`` equals one of ``values`` (``status:(failed,crashed)``)."""

    field: str
    values: tuple[Value, ...]


@attrs.frozen
class Range:
    """``low <= field <= high`` (``metrics.r2:0.5..0.9``); both ends are numbers."""

    field: str
    low: float
    high: float


@attrs.frozen
class And:
    """Every term holds (two or more, none of them an And)."""

    terms: tuple[Expr, ...]


@attrs.frozen
class Or:
    """At least one term holds (two or more, none of them an Or)."""

    terms: tuple[Expr, ...]


Expr = Comparison | InList | Range | And | Or


@attrs.frozen
class Sort:
    """The order of a runs list: a field (as in filters) and its direction."""

    field: str = "started"
    descending: bool = True


#: A page boundary: the sort key of the last run of the page before (see the module).
Cursor = tuple[Any, ...]


@attrs.frozen
class RunQuery:
    """One page of a runs list: which runs, in what order, after which run, what columns.

    ``columns`` names the ``params.<name>`` / ``metrics.<name>`` values the caller
    wants with each run (:attr:`RunPage.values`); nothing else is fetched.
    """

    filter: Expr | None = None
    sort: Sort = Sort()
    limit: int = 50
    after: Cursor | None = None
    columns: tuple[str, ...] = ()


@attrs.frozen
class RunPage:
    """The runs of one page, the cursor of the next (None on the last) and chosen values.

    ``values[run_id][column]`` holds each requested column the run has: a
    parameter's value, a metric's last value (NaN for a NaN).
    """

    runs: list[RunRecord]
    next_cursor: Cursor | None = None
    values: dict[str, dict[str, Any]] = attrs.field(factory=dict)


def field_kind(field: str) -> str | None:
    """``"text"``, ``"number"``, ``"param"`` or ``"metric"``; None for an unknown field."""
    if "\x00" in field:  # no database takes a NUL in a name (PostgreSQL refuses it)
        return None
    if field in TEXT_FIELDS:
        return "text"
    if field in NUMBER_FIELDS:
        return "number"
    for prefix, kind in (("params.", "param"), ("metrics.", "metric")):
        if field.startswith(prefix) and len(field) > len(prefix):
            return kind
    return None


def fields_of(expr: Expr | None) -> set[str]:
    """Every field a filter tree names."""
    if expr is None:
        return set()
    if isinstance(expr, And | Or):
        return set().union(*(fields_of(t) for t in expr.terms))
    return {expr.field}
