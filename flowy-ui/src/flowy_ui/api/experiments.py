"""``/api/v1/experiments``: every experiment with its run counts; one experiment's runs.

An experiment's runs come a page at a time (keyset, as ``/api/v1/runs``), each with its
parameters and last metric values, plus the names of those columns, so the page can
draw a table whose columns are the experiment's parameters and metrics.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query

from flowy_ui import pagination, views
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

if TYPE_CHECKING:
    from flowy.kernel.records import RunRecord

router = APIRouter(prefix="/experiments", tags=["experiments"], responses=ERROR_RESPONSES)


@router.get("", response_model=schemas.ExperimentList)
def list_experiments(pool: Pool) -> dict[str, Any]:
    """Experiments (runs are filed under their pipeline's name unless one is named)."""
    from flowy.tracking import list_experiments as query

    rows = query(pool.client().store)
    return {
        "items": [
            {
                "name": r["name"],
                "runs": r["runs"],
                "last_run_at": r.get("last_started_at"),
                "first_run_at": r.get("first_started_at"),
                "completed": r.get("completed", 0),
                "failed": r.get("failed", 0),
                "pipelines": list(r.get("pipelines", [])),
            }
            for r in rows
        ]
    }


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Names present in ``rows``, the most widely present first (ties alphabetical)."""
    counts = Counter(name for row in rows for name in row)
    return sorted(counts, key=lambda n: (-counts[n], n))


@router.get("/{name}", response_model=schemas.ExperimentRuns)
def experiment_runs(
    pool: Pool,
    name: Annotated[str, Path(min_length=1, max_length=256)],
    *,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    status: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The experiment's runs, newest first, with their parameter and metric columns.

    404 names the experiments there are when none is called ``name``.
    """
    from flowy.tracking import experiment_runs as query
    from flowy.tracking import summarize

    client = pool.client()
    after = pagination.decode(cursor) if cursor else None
    query(client.store, name, limit=1)  # ExperimentNotFoundError (404) for an unknown name

    def fetch(n: int) -> list[RunRecord]:
        return query(client.store, name, status=status or None, limit=n)

    runs, more = pagination.page(fetch, limit, after)
    items = [views.run_item(s.run, s.params, s.metrics) for s in summarize(client.store, runs)]
    return {
        "name": name,
        "items": items,
        "next_cursor": pagination.encode(runs[-1]) if more and runs else None,
        "param_names": _columns([item["params"] for item in items]),
        "metric_names": _columns([item["metrics"] for item in items]),
    }
