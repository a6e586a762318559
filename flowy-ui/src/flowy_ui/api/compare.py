"""``/api/v1/compare``: what differs between 2 or more runs, their series overlaid, the best.

Comparing many runs is where other UIs get clumsy, so the answer is shaped for it:
parameters come as one row per name with each run's value, and only the rows whose
values differ unless ``all=true`` (identical parameters are noise when comparing 50
runs); metric series are reduced on the server to ``points`` per run and series
(:mod:`flowy_ui.series`, each bucket's min and max kept), so 50 runs of 100,000 points
stay a small answer. There is no cap on the number of runs: the query string is the
only bound.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import standard_json
from flowy.kernel.redact import mask

from flowy_ui import series
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

if TYPE_CHECKING:
    from flowy.kernel.contracts import MetadataStore
    from flowy.kernel.records import RunRecord

router = APIRouter(prefix="/compare", tags=["compare"], responses=ERROR_RESPONSES)

#: Metric series sent when none is asked for by name (beyond the ranking metric).
DEFAULT_SERIES = 1


class CompareError(FlowyError):
    """A comparison asked for with too few runs, unknown runs or an unknown metric."""


def _names(raw: str | None) -> list[str]:
    """A comma-separated list, blanks dropped, each name once, in the order given."""
    if not raw:
        return []
    return list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _resolve(store: MetadataStore, ids: list[str]) -> list[RunRecord]:
    """Each id (or unique prefix) as its run; every unknown one named in one error."""
    from flowy.kernel.errors import RunNotFoundError

    runs: list[RunRecord] = []
    unknown: list[str] = []
    for run_id in ids:
        try:
            runs.append(store.get_run(run_id))
        except RunNotFoundError:
            unknown.append(run_id)
    if unknown:
        shown = ", ".join(repr(u[:64]) for u in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise CompareError(f"Unknown run ids: {shown}{more}. Pass ids from GET /api/v1/runs.")
    unique = list({run.run_id: run for run in runs}.values())
    if len(unique) < 2:
        raise CompareError(
            f"Compare needs at least two different runs; got {len(unique)}. "
            "Pass them as runs=<id>,<id>,..."
        )
    return unique


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def best_of(
    runs: list[RunRecord], metrics: dict[str, dict[str, float]], metric: str, mode: str
) -> tuple[str | None, float | None]:
    """The completed run with the highest (``max``) or lowest (``min``) finite ``metric``.

    NaN and infinities are never best (a diverged run is not the winner); ties go to
    the earlier run, as ``flowy experiment best`` ranks them.
    """
    sign = -1.0 if mode == "max" else 1.0
    candidates = [
        (sign * metrics[r.run_id][metric], r.started_at, r.run_id)
        for r in runs
        if r.status == "completed" and _finite(metrics.get(r.run_id, {}).get(metric))
    ]
    if not candidates:
        return None, None
    _, _, run_id = min(candidates)
    return run_id, metrics[run_id][metric]


def _rows(values_by_run: list[dict[str, Any]], only_changed: bool) -> list[dict[str, Any]]:
    """One row per name with each run's value (None where a run lacks it)."""
    names: dict[str, None] = {}
    for by_name in values_by_run:
        names.update(dict.fromkeys(by_name))
    rows = []
    for name in names:
        values = [by_name.get(name) for by_name in values_by_run]
        changed = len({repr(v) for v in values}) > 1
        if changed or not only_changed:
            rows.append({"name": name, "values": values, "changed": changed})
    return rows


@router.get("", response_model=schemas.Comparison)
def compare(
    pool: Pool,
    *,
    runs: Annotated[
        str, Query(min_length=1, max_length=65_536, description="ids, comma-separated")
    ],
    metric: Annotated[str | None, Query(max_length=256)] = None,
    mode: Literal["max", "min"] = "max",
    series_names: Annotated[
        str | None,
        Query(alias="series", max_length=4096, description="metric series to overlay"),
    ] = None,
    points: Annotated[int, Query(ge=2, le=100_000)] = 500,
    all_params: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    """Parameters that differ (all with ``all=true``), final metrics, series, the best run."""
    from flowy.tracking import summarize

    store = pool.client().store
    records = _resolve(store, _names(runs))
    summaries = summarize(store, records)
    metrics = {s.run_id: s.metrics for s in summaries}
    params = [mask(s.params) for s in summaries]
    logged = list(dict.fromkeys(name for s in summaries for name in s.metrics))
    if metric is not None and metric not in logged:
        raise CompareError(
            f"None of these runs logged a metric {metric!r}. "
            f"Metrics they logged: {', '.join(logged[:50]) or 'none'}."
        )
    wanted = _names(series_names) or ([metric] if metric else logged[:DEFAULT_SERIES])
    overlaid: dict[str, dict[str, list[tuple[float, float]]]] = {name: {} for name in wanted}
    totals: dict[str, dict[str, int]] = {name: {} for name in wanted}
    for record in records:
        raw: dict[str, list[tuple[float, float]]] = {}
        for _, m in store.get_metrics(record.run_id):
            if m.name in overlaid:
                values = raw.setdefault(m.name, [])
                values.append(
                    (float(m.step) if m.step is not None else float(len(values)), m.value)
                )
        for name, values in raw.items():
            values.sort(key=lambda p: p[0])
            overlaid[name][record.run_id] = series.downsample(values, points)
            totals[name][record.run_id] = len(values)
    best = None
    if metric is not None:
        run_id, value = best_of(records, metrics, metric, mode)
        best = {"metric": metric, "mode": mode, "run_id": run_id, "value": value}
    param_rows = _rows(params, only_changed=not all_params)
    answer: dict[str, Any] = standard_json(
        {
            "runs": [
                {
                    "run_id": r.run_id,
                    "pipeline": r.pipeline,
                    "experiment": r.experiment or r.pipeline,
                    "status": r.status,
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                }
                for r in records
            ],
            "params": param_rows,
            "params_total": len({name for p in params for name in p}),
            "metrics": _rows([metrics[r.run_id] for r in records], only_changed=False),
            "metric_names": logged,
            "series": overlaid,
            "series_total": totals,
            "points": points,
            "best": best,
        }
    )
    return answer
