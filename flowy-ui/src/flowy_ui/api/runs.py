"""``/api/v1/runs``: the runs list (keyset pages), one run, its DAG, logs and metrics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from flowy.kernel.records import standard_json

from flowy_ui import pagination, series, views
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Audit, Pool
from flowy_ui.auth import Principal, require

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)

MAX_LIMIT = 500
Editor = Annotated[Principal, require("editor")]
Filter = Annotated[str | None, Query(max_length=256)]


@router.get("", response_model=schemas.RunPage, response_model_exclude_unset=True)
def list_runs(
    pool: Pool,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    q: Annotated[str | None, Query(max_length=4096)] = None,
    sort: Annotated[str, Query(max_length=300)] = "started",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    columns: Annotated[str | None, Query(max_length=4096)] = None,
    status: Filter = None,
    pipeline: Filter = None,
    experiment: Filter = None,
) -> dict[str, Any]:
    """Runs matching the filter ``q``, sorted by ``sort``/``order``, ``limit`` per page.

    ``q`` is the filter language (``status:failed metrics.r2>0.9``, see docs/ui.md);
    ``status``, ``pipeline`` and ``experiment`` are shorthands ANDed with it. Pass
    ``next_cursor`` back as ``cursor`` (with the same sort). With ``columns``
    (comma-separated ``params.<name>`` / ``metrics.<name>``) each run carries only
    those values, and the first page lists ``available_columns``; without it, every
    parameter and metric of each run.
    """
    from flowy.kernel.run_query import RunQuery
    from flowy.tracking import parse_run_sort

    run_filter = _run_filter(q, status, pipeline, experiment)
    run_sort = parse_run_sort(sort, order)
    chosen = _chosen_columns(columns)
    after = pagination.decode_key(cursor, run_sort) if cursor else None
    client = pool.client()
    query = RunQuery(run_filter, run_sort, limit, after, tuple(chosen or ()))
    page = client.store.search_runs(query)
    if chosen is None:
        from flowy.tracking import summarize

        items = [
            views.run_item(s.run, s.params, s.metrics) for s in summarize(client.store, page.runs)
        ]
    else:
        items = [_chosen_item(run, page.values.get(run.run_id, {})) for run in page.runs]
    body: dict[str, Any] = {
        "items": items,
        "next_cursor": (
            pagination.encode_key(run_sort, page.next_cursor) if page.next_cursor else None
        ),
    }
    if chosen is not None and cursor is None:
        names = client.store.run_columns()
        body["available_columns"] = [f"params.{n}" for n in names.get("params", [])] + [
            f"metrics.{n}" for n in names.get("metrics", [])
        ]
    return body


#: At most this many chosen columns per request.
MAX_COLUMNS = 50


def _run_filter(
    q: str | None, status: str | None, pipeline: str | None, experiment: str | None
) -> Any:
    """The filter tree of ``q`` ANDed with the shorthand parameters (RunQueryError: 400)."""
    from flowy.kernel.run_query import And, Comparison
    from flowy.tracking import parse_run_filter

    terms = [] if not q else [parse_run_filter(q)]
    for field, value in (("status", status), ("pipeline", pipeline), ("experiment", experiment)):
        if value:
            terms.append(Comparison(field, "=", value))
    terms = [t for t in terms if t is not None]
    if len(terms) <= 1:
        return terms[0] if terms else None
    flat: list[Any] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, And) else (term,))
    return And(tuple(flat))


def _chosen_columns(columns: str | None) -> list[str] | None:
    """The ``params.*`` / ``metrics.*`` names asked for; None when ``columns`` is absent."""
    if columns is None:
        return None
    from flowy.kernel.run_query import field_kind
    from flowy.tracking import RunQueryError

    chosen = [c.strip() for c in columns.split(",") if c.strip()]
    for name in chosen:
        if field_kind(name) not in ("param", "metric"):
            raise RunQueryError(
                f"Column {name[:80]!r}: expected params.<name> or metrics.<name>, comma-separated."
            )
    if len(chosen) > MAX_COLUMNS:
        raise RunQueryError(f"{len(chosen)} columns asked for: at most {MAX_COLUMNS}.")
    return list(dict.fromkeys(chosen))


def _chosen_item(run: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A run's list item with only the chosen parameter and metric values."""
    params = {k[len("params.") :]: v for k, v in values.items() if k.startswith("params.")}
    metrics = {k[len("metrics.") :]: v for k, v in values.items() if k.startswith("metrics.")}
    return views.run_item(run, params, metrics)


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
        "steps": [views.step_item(s) for s in summary.steps]
        + [views.running_step_item(name, at) for name, at in _running(client, run)],
    }


@router.get("/{run_id}/dag", response_model=schemas.Dag)
def get_dag(pool: Pool, run_id: str) -> dict[str, Any]:
    """The run's steps (recorded, then running) and the edges between them."""
    client = pool.client()
    run = client.run(run_id)
    return views.dag(client.steps(run.run_id), _running(client, run))


def _running(client: Any, run: Any) -> list[tuple[str, float]]:
    """Steps started and not recorded, while the run runs (a crashed run's stay unknown)."""
    return client.store.running_steps(run.run_id) if run.status == "running" else []


@router.get("/{run_id}/steps/{step}/logs", response_model=schemas.StepLogs)
def get_logs(pool: Pool, run_id: str, step: str) -> dict[str, Any]:
    """A step's captured output and, when it failed, its traceback.

    While the step runs (started, not recorded) its output so far instead, with
    ``live: true``: what the engine forwarded of it (about twice a second, capped;
    see ``MetadataStore.append_step_output``). The live feed's ``output`` changes
    say when there is more; once the step is recorded, its full log.
    """
    client = pool.client()
    run = client.run(run_id)
    record = next((s for s in client.steps(run.run_id) if s.step == step), None)
    if record is None:
        if any(name == step for name, _ in _running(client, run)):
            tail = client.store.step_output(run.run_id, step)
            return {
                "run_id": run.run_id,
                "step": step,
                "logs": tail,
                "traceback": None,
                "live": True,
            }
        record = client.step(run.run_id, step)  # raises: a clear 404 naming the run's steps
    logs = client.store.get_logs(run.run_id, step)
    return {
        "run_id": run.run_id,
        "step": step,
        "logs": logs.get(step, record.logs or ""),
        "traceback": record.traceback,
        "live": False,
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


@router.post("/{run_id}/cancel", response_model=schemas.CancelAccepted, status_code=202)
def cancel_run(pool: Pool, audit: Audit, who: Editor, run_id: str) -> dict[str, Any]:
    """Ask the run's process to cancel it (editor role): 202, or 409 when it is not running.

    The process (on any machine sharing the store) checks about twice a second
    and ends the run as Ctrl-C would; the live feed then says ``cancelled``.
    """
    from flowy.kernel.errors import FlowyError, RunNotFoundError

    try:
        client = pool.client()
        run = client.run(run_id)
        if run.status != "running":
            raise HTTPException(409, f"Run {run.run_id} is {run.status}, not running.")
        asked = client.store.request_cancel(run.run_id, who.name)
    except RunNotFoundError:
        raise
    except HTTPException as exc:
        audit.record(who.name, "run.cancel", run_id, "refused", error=str(exc.detail))
        raise
    except FlowyError as exc:
        audit.record(who.name, "run.cancel", run_id, "failed", error=str(exc))
        status = 409 if "not running" in str(exc) else 400
        raise HTTPException(status, str(exc)) from None
    audit.record(who.name, "run.cancel", run.run_id, requested=asked)
    return {"run_id": run.run_id, "requested": asked, "status": "cancelling"}
