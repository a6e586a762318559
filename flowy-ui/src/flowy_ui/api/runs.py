"""``/api/v1/runs``: the runs list (keyset pages), one run, its DAG, logs and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from flowy.kernel.records import standard_json

from flowy_ui import pagination, series, views
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)

MAX_LIMIT = 500
Filter = Annotated[str | None, Query(max_length=256)]


@router.get("", response_model=schemas.RunPage)
def list_runs(
    pool: Pool,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    status: Filter = None,
    pipeline: Filter = None,
    experiment: Filter = None,
) -> dict[str, Any]:
    """Runs newest first, ``limit`` per page; pass ``next_cursor`` back as ``cursor``."""
    from flowy.tracking import summarize

    client = pool.client()
    after = pagination.decode(cursor) if cursor else None
    status = status or None
    pipeline = pipeline or None

    if experiment:
        from flowy.tracking import experiment_runs

        def fetch(n: int) -> list[Any]:
            try:
                return experiment_runs(client.store, experiment, status=status, limit=n)
            except Exception as exc:
                if type(exc).__name__ == "ExperimentNotFoundError":
                    return []
                raise

        def keep(run: Any) -> bool:
            return pipeline is None or run.pipeline == pipeline
    else:

        def fetch(n: int) -> list[Any]:
            return client.runs(pipeline=pipeline, status=status, limit=n)

        def keep(run: Any) -> bool:
            return True

    runs, more = pagination.page(fetch, limit, after, keep)
    summaries = summarize(client.store, runs)
    return {
        "items": [views.run_item(s.run, s.params, s.metrics) for s in summaries],
        "next_cursor": pagination.encode(runs[-1]) if more and runs else None,
    }


@router.get("/{run_id}", response_model=schemas.RunDetail)
def get_run(pool: Pool, run_id: str) -> dict[str, Any]:
    """One run (id or unique prefix) with its steps, git and environment facts."""
    from flowy.tracking import summarize

    client = pool.client()
    run = client.run(run_id)
    (summary,) = summarize(client.store, [run])
    return {
        **views.run_item(run, summary.params, summary.metrics),
        "git": standard_json(run.git),
        "environment": standard_json(run.environment),
        "host": run.host,
        "steps": [views.step_item(s) for s in summary.steps],
    }


@router.get("/{run_id}/dag", response_model=schemas.Dag)
def get_dag(pool: Pool, run_id: str) -> dict[str, Any]:
    """The run's steps and the edges between them (which step produced each input)."""
    return views.dag(pool.client().steps(run_id))


@router.get("/{run_id}/steps/{step}/logs", response_model=schemas.StepLogs)
def get_logs(pool: Pool, run_id: str, step: str) -> dict[str, Any]:
    """A step's captured output and, when it failed, its traceback."""
    client = pool.client()
    record = client.step(run_id, step)
    logs = client.logs(record.run_id, step)
    return {
        "run_id": record.run_id,
        "step": step,
        "logs": logs.get(step, record.logs or ""),
        "traceback": record.traceback,
    }


@router.get("/{run_id}/metrics", response_model=schemas.MetricSeries)
def get_metrics(
    pool: Pool, run_id: str, points: Annotated[int, Query(ge=2, le=100_000)] = 500
) -> dict[str, Any]:
    """Each metric's series, at most ``points`` points, each bucket's min and max kept."""
    raw: dict[str, list[tuple[float, float]]] = {}
    for _, metric in pool.client().metrics(run_id):
        values = raw.setdefault(metric.name, [])
        index = float(metric.step) if metric.step is not None else float(len(values))
        values.append((index, float(metric.value)))
    result = {}
    for name, values in raw.items():
        values.sort(key=lambda p: p[0])
        result[name] = standard_json(series.downsample(values, points))
    return {"series": result, "points": points, "total": {k: len(v) for k, v in raw.items()}}
