"""The rows a step record writes, and the order both stores insert them in."""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Sequence
from typing import Any

from flowy.kernel.records import CACHED, ArtifactRef, CacheEntry, MetricRecord, StepRunRecord

from flowy_store_sqlite import _rows
from flowy_store_sqlite.change_methods import STEP, change_row

#: Each statement of a step record (a name in the queries modules) and the StepRows
#: attribute holding its rows, in the order they run: the step run first, then what
#: references it; an entry's old row is deleted before its new one is inserted.
ORDER = (
    ("INSERT_STEP", "steps"),
    ("INSERT_ARTIFACT", "artifacts"),
    ("INSERT_TAG", "tags"),
    ("INSERT_EDGE", "edges"),
    ("INSERT_METRIC", "metrics"),
    ("DELETE_CACHE", "cache_keys"),
    ("INSERT_CACHE", "caches"),
    ("COUNT_HIT", "hits"),
    ("INSERT_CHANGE", "changes"),
)


class StepRows:
    """Every row one step record writes, built before its transaction opens.

    A record that cannot be turned into rows fails before anything is written.
    """

    __slots__ = (
        "artifacts",
        "cache_keys",
        "caches",
        "changes",
        "edges",
        "hits",
        "metrics",
        "steps",
        "tags",
    )

    def __init__(
        self,
        step_run: StepRunRecord,
        artifacts: Sequence[ArtifactRef],
        metrics: Sequence[MetricRecord],
        cache_entry: CacheEntry | None,
    ) -> None:
        now = time.time()
        run_id, step = step_run.run_id, step_run.step
        self.steps = [_rows.step_row(step_run)]
        self.artifacts = [_rows.artifact_row(a, run_id, step, now) for a in artifacts]
        self.tags = [row for a in artifacts for row in _rows.tag_rows(a)]
        self.edges = [
            dict(zip(_rows.EDGE_KEYS, (aid, run_id, step, d, n), strict=True))
            for d, mapping in (("consumed", step_run.inputs), ("produced", step_run.outputs))
            for n, aid in mapping.items()
        ]
        self.metrics = [_rows.metric_row(m, run_id, step) for m in metrics]
        self.caches: list[dict[str, Any]] = []
        self.cache_keys: list[dict[str, Any]] = []
        if cache_entry is not None:
            cache = _rows.cache_row(cache_entry)
            cache["created_at"] = cache["created_at"] or now
            cache["last_used_at"] = cache["created_at"]
            sizes = {a.artifact_id: a.size for a in artifacts}
            cache["size"] = sum(sizes.get(i, 0) for i in cache_entry.outputs.values())
            self.caches.append(cache)
            self.cache_keys.append({"where_key": cache["key"]})
        # A cached step counts its hit in its own transaction: no extra commit per hit.
        at = step_run.finished_at or step_run.started_at or now
        self.hits = (
            [{"where_key": step_run.cache_key, "at": at}] if step_run.status == CACHED else []
        )
        # The change feed's row (flowy ui's live views), in the step's own transaction.
        at = step_run.finished_at or step_run.started_at or now
        self.changes = [change_row(run_id, step, STEP, step_run.status, at)]


def step_writes(batch: Sequence[StepRows], queries: Any) -> list[tuple[Any, list[dict[str, Any]]]]:
    """``(statement, rows)`` pairs writing ``batch``, in :data:`ORDER`; none without rows.

    One statement for the whole batch (an executemany): each table still gets
    its rows in the batch's order, so step run ids follow it. ``queries`` is
    the store's queries module. Every old cache row of the batch's keys is deleted
    before its new rows go in; two records of one batch with the same key (two
    elements of a map with equal content) leave the later one's entry, as two
    records written one after the other would.
    """
    if len(batch) == 1:  # record_step: once per step
        one = batch[0]
        return [(getattr(queries, s), rows) for s, a in ORDER if (rows := getattr(one, a))]
    writes = []
    for statement, attribute in ORDER:
        rows = list(itertools.chain.from_iterable(map(operator.attrgetter(attribute), batch)))
        if attribute == "caches" and len(rows) > 1:
            rows = list({row["key"]: row for row in rows}.values())  # the last of each key
        if rows:
            writes.append((getattr(queries, statement), rows))
    return writes
