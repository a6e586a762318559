"""Records to rows and back: the only place that knows both shapes.

JSON columns are TEXT. One shared encoder (compact separators) is reused:
building one per ``json.dumps`` call with options costs more than the encoding
of the small dicts we store. Values JSON cannot hold (a Path in a parameter,
say) are stored as their ``str``: losing a run's record over a parameter's
type would be worse.

Reading is where a damaged database shows: a JSON cell that does not decode to
an object raises :class:`~flowy_store_sqlite.faults.MalformedRowError` naming
the table, row and column (never a bare JSONDecodeError), and a malformed
cache entry is a cache miss with a warning (:func:`cache_record_or_none`).

A metric's NaN is stored as NULL (SQLite has no NaN: it binds one as NULL) and
read back as NaN; ±inf are stored as they are.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from flowy.kernel.records import (
    ArtifactRef,
    CacheEntry,
    MetricRecord,
    RunRecord,
    StepRunRecord,
)

from flowy_store_sqlite.faults import MalformedCacheEntryWarning, MalformedRowError, row_label

# flowy.tracking.assets.ASSET_KEY and PLAIN, spelled out: importing flowy.tracking.assets
# (attrs classes)
# would add milliseconds to every command that opens the store.
ASSET_KEY = "flowy_asset"
PLAIN = "artifact"

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
_decode = json.loads


def dumps(value: Any) -> str:
    return "{}" if not value and isinstance(value, dict) else _encode(value)


def loads(text: str | None) -> Any:
    return {} if text is None or text == "{}" else _decode(text)


def _obj(row: Mapping[Any, Any], column: str, table: str) -> dict[str, Any]:
    """The JSON object in ``row[column]``; MalformedRowError when it is anything else."""
    text = row[column]
    if text is None or text == "{}":
        return {}
    try:
        value = _decode(text)
    except (TypeError, ValueError) as exc:
        raise _malformed(row, column, table, f"text that is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _malformed(row, column, table, f"a JSON {type(value).__name__}, not an object")
    return value


def _list(row: Mapping[Any, Any], column: str, table: str) -> list[Any]:
    """The JSON list in ``row[column]`` (``[]`` for NULL); MalformedRowError when it is not one."""
    text = row[column]
    if text is None or text == "[]":
        return []
    try:
        value = _decode(text)
    except (TypeError, ValueError) as exc:
        raise _malformed(row, column, table, f"text that is not JSON ({exc})", "[]") from None
    if not isinstance(value, list):
        raise _malformed(row, column, table, f"a JSON {type(value).__name__}, not a list", "[]")
    return value


def _malformed(
    row: Mapping[Any, Any], column: str, table: str, reason: str, empty: str = "{}"
) -> MalformedRowError:
    label, where = row_label(table, row)
    repair = f"UPDATE {table} SET {column} = '{empty}' WHERE {where}"
    return MalformedRowError(table, label, column, reason, repair)


class RowMap:
    """One record class and its table: each attribute is the column of the same name.

    Written once for both directions: :meth:`row` and :meth:`record`. The
    attributes named in ``json`` are JSON objects in TEXT columns, those in ``lists``
    JSON lists (``[]`` when NULL). A row is
    built for every step a run records, so both functions are generated once
    as plain literals (``{"run_id": r.run_id, ...}``), the way attrs writes a
    class's ``__init__``: a loop over the attributes costs twice as much.
    """

    __slots__ = ("cls", "json", "lists", "plain", "record", "row", "table")

    def __init__(
        self,
        cls: type[Any],
        table: str,
        json: tuple[str, ...] = (),
        lists: tuple[str, ...] = (),
    ) -> None:
        self.cls, self.table, self.json, self.lists = cls, table, json, lists
        names = [field.name for field in attrs.fields(cls)]
        self.plain = tuple(name for name in names if name not in json and name not in lists)
        to_row = [f"{n!r}: r.{n}" for n in self.plain]
        to_row += [f"{n!r}: dumps(r.{n})" for n in (*json, *lists)]
        to_record = [f"{n}=row[{n!r}]" for n in self.plain]
        to_record += [f"{n}=obj(row, {n!r}, {table!r})" for n in json]
        to_record += [f"{n}=lst(row, {n!r}, {table!r})" for n in lists]
        source = (
            f"def row(r):\n    return {{{', '.join(to_row)}}}\n"
            f"def record(row):\n    return cls({', '.join(to_record)})\n"
        )
        functions: dict[str, Any] = {}
        exec(source, {"cls": cls, "dumps": dumps, "obj": _obj, "lst": _list}, functions)
        #: ``record -> {column: value}``.
        self.row: Callable[[Any], dict[str, Any]] = functions["row"]
        #: ``row -> record`` (MalformedRowError for a JSON cell that is not an object).
        self.record: Callable[[Mapping[Any, Any]], Any] = functions["record"]


RUNS = RowMap(RunRecord, "runs", json=("params", "stack", "git", "environment"))
STEP_RUNS = RowMap(
    StepRunRecord, "step_runs", json=("params", "inputs", "outputs"), lists=("tags",)
)
ARTIFACTS = RowMap(ArtifactRef, "artifacts", json=("metadata",))
CACHE_ENTRIES = RowMap(CacheEntry, "cache_entries", json=("components", "outputs"))


run_row: Callable[[RunRecord], dict[str, Any]] = RUNS.row
run_record: Callable[[Mapping[Any, Any]], RunRecord] = RUNS.record
step_row: Callable[[StepRunRecord], dict[str, Any]] = STEP_RUNS.row
step_record: Callable[[Mapping[Any, Any]], StepRunRecord] = STEP_RUNS.record
artifact_record: Callable[[Mapping[Any, Any]], ArtifactRef] = ARTIFACTS.record
cache_record: Callable[[Mapping[Any, Any]], CacheEntry] = CACHE_ENTRIES.record


def artifact_row(ref: ArtifactRef, run_id: str, step: str, now: float) -> dict[str, Any]:
    if not ref.artifact_id:
        raise ValueError(
            f"artifact {ref.name!r} of step {step!r} has no artifact_id; the engine must "
            "assign one before record_step"
        )
    row = ARTIFACTS.row(ref)
    row.update(run_id=run_id, step=step, created_at=now, asset_type=asset_type(ref))
    row["asset_name"] = _asset(ref).get("name")
    return row


def _asset(ref: ArtifactRef) -> Mapping[str, Any]:
    """The asset description a step's output carried (flowy.tracking.assets), or {}."""
    found = ref.metadata.get(ASSET_KEY) if ref.metadata else None
    return found if isinstance(found, Mapping) else {}


def asset_type(ref: ArtifactRef) -> str:
    return str(_asset(ref).get("type") or PLAIN)[:32]


def tag_rows(ref: ArtifactRef) -> list[dict[str, Any]]:
    """One row per distinct tag of the artifact's asset."""
    tags = _asset(ref).get("tags") or []
    return [{"artifact_id": ref.artifact_id, "tag": str(t)} for t in dict.fromkeys(tags)]


def metric_row(metric: MetricRecord, run_id: str, step: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "step": step,
        "name": metric.name,
        "value": None if math.isnan(metric.value) else metric.value,
        "idx": metric.step,
        "timestamp": metric.timestamp,
    }


def metric_record(row: Mapping[Any, Any]) -> MetricRecord:
    value = row["value"]
    return MetricRecord(
        name=row["name"],
        value=math.nan if value is None else value,
        step=row["idx"],
        timestamp=row["timestamp"],
    )


def cache_row(entry: CacheEntry) -> dict[str, Any]:
    row = CACHE_ENTRIES.row(entry)
    row.update(hits=0, size=0, last_used_at=entry.created_at or None)
    return row


def cache_record_or_none(row: Mapping[Any, Any]) -> CacheEntry | None:
    """The entry of a cache row, or None (a miss, with a warning) when it is malformed.

    A damaged entry must not fail every run of its pipeline: the step runs, and
    its new entry replaces this one (same key).
    """
    try:
        return cache_record(row)
    except MalformedRowError as exc:
        warn_cache_miss(f"cache entry {row['key']} of step {row['step']!r}", exc)
        return None


def cache_hits(
    entry_rows: Sequence[Mapping[str, Any]], ref_rows: Sequence[Mapping[str, Any]]
) -> list[tuple[CacheEntry, dict[str, ArtifactRef]]]:
    """Cache entries with their outputs' artifact records, from two result sets.

    ``entry_rows`` are ``cache_entries`` rows; ``ref_rows`` name an entry
    (``c_key``), one of its outputs (``output``) and that output's artifact
    row (NULL ``artifact_id`` when the row is gone). An entry whose outputs are
    not all there, or that is malformed, is left out: no hit can be served
    from it (a malformed one says so in a warning).
    """
    entries: dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]] = {}
    for row in entry_rows:
        entry = cache_record_or_none(row)
        if entry is not None:
            entries[entry.key] = (entry, {})
    broken: set[str] = set()
    for row in ref_rows:
        key = row["c_key"]
        if key not in entries or key in broken:
            continue
        if row["artifact_id"] is None:
            broken.add(key)
            continue
        try:
            entries[key][1][row["output"]] = artifact_record(row)
        except MalformedRowError as exc:
            entry = entries[key][0]
            warn_cache_miss(
                f"artifact {row['artifact_id']} (output {row['output']!r} of cache entry "
                f"{key} of step {entry.step!r})",
                exc,
            )
            broken.add(key)
    return [
        (entry, refs)
        for key, (entry, refs) in entries.items()
        if key not in broken and set(refs) == set(entry.outputs)
    ]


def outputs_one_by_one(
    lookup: Callable[[str], tuple[CacheEntry, dict[str, ArtifactRef]] | None], key: str
) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
    """``lookup(key)`` (an entry, then each artifact by id), a miss when a row is malformed."""
    try:
        return lookup(key)
    except MalformedRowError as exc:
        warn_cache_miss(f"cache entry {key} (or an artifact of it)", exc)
        return None


def warn_cache_miss(what: str, exc: MalformedRowError) -> None:
    """Say that ``what`` is ignored because of ``exc``: the step runs instead of a hit."""
    warnings.warn(
        f"Ignoring the malformed {what}: column {exc.column!r} of table {exc.table!r} holds "
        f"{exc.reason}. The step runs instead of using the cache.",
        MalformedCacheEntryWarning,
        stacklevel=3,
    )


#: Columns of a lineage edge row.
EDGE_KEYS = ("artifact_id", "run_id", "step", "direction", "name")
#: A stand-in whose rows give each insert its column list.
PROBE_ARTIFACT = ArtifactRef("", "", "", 0, "", "", "", artifact_id="probe")
