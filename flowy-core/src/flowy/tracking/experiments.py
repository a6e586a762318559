"""Experiments: runs grouped by name, summarised, ranked and compared.

Every run belongs to one experiment: the name given with ``flowy run
--experiment`` (or ``run_pipeline(experiment=...)``), else the pipeline's
``Pipeline(..., experiment=...)``, else the pipeline's name. This module is the
one read API for them, used by ``flowy experiment`` and by notebooks::

    with Client() as client:
        best = experiments.best_run(client.store, "train", "accuracy")

What a run "has" is defined here, once:

* its **parameters** are the run's parameters plus those its steps logged with
  ``flowy.log_params`` (a step's value that differs from another step's is
  kept as ``step.name``);
* its **metrics** are the last value logged under each name. A step served
  from the cache did not run, so it logged nothing: its metrics are those the
  step logged in the run that produced the re-used outputs (``inherited``
  says from which run), so a re-run with nothing changed still ranks.

Stores may offer set-based versions of the queries (the SQL store does:
``list_experiments``, ``experiment_runs``, ``step_runs_of_runs``,
``metrics_of_runs``, ``artifact_producers``); any other store is read with
the contract's per-run methods.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    from flowy.kernel.contracts import MetadataStore
    from flowy.kernel.records import MetricRecord, RunRecord, StepRunRecord

MODES = ("max", "min")
_ENV_FIELDS = ("python", "implementation", "platform", "machine", "executable", "prefix")
_GIT_FIELDS = ("commit", "branch", "dirty", "diff")


class ExperimentNotFoundError(FlowyError):
    """No run is filed under the experiment name asked for."""


@attrs.define
class RunSummary:
    """One run as experiments see it: parameters, last metric values, step runs."""

    run: RunRecord
    params: dict[str, Any]
    metrics: dict[str, float]
    inherited: dict[str, str] = attrs.field(factory=dict)
    """Metric name -> run it came from, for metrics of steps served from the cache."""
    steps: list[StepRunRecord] = attrs.field(factory=list)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def to_json(self) -> dict[str, Any]:
        run = self.run
        return {
            "run_id": run.run_id,
            "pipeline": run.pipeline,
            "experiment": run.experiment or run.pipeline,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "params": self.params,
            "metrics": self.metrics,
            "inherited_metrics": self.inherited,
            "cached_steps": [s.step for s in self.steps if s.status == "cached"],
        }


def experiment_of(run: RunRecord) -> str:
    return run.experiment or run.pipeline


def list_experiments(store: MetadataStore) -> list[dict[str, Any]]:
    """Each experiment with its run counts, first and last start and pipelines, newest first."""
    fast = getattr(store, "list_experiments", None)
    if fast is not None:
        rows: list[dict[str, Any]] = fast()
        return rows
    found: dict[str, dict[str, Any]] = {}
    for run in store.iter_runs():
        row = found.setdefault(
            experiment_of(run),
            {"name": experiment_of(run), "runs": 0, "completed": 0, "failed": 0,
             "first_started_at": run.started_at, "last_started_at": run.started_at,
             "pipelines": set()},
        )  # fmt: skip
        row["runs"] += 1
        row["completed"] += run.status == "completed"
        row["failed"] += run.status == "failed"
        row["first_started_at"] = min(row["first_started_at"], run.started_at)
        row["last_started_at"] = max(row["last_started_at"], run.started_at)
        row["pipelines"].add(run.pipeline)
    result = sorted(found.values(), key=lambda r: -r["last_started_at"])
    for row in result:
        row["pipelines"] = sorted(row["pipelines"])
    return result


def experiment_runs(
    store: MetadataStore, name: str, status: str | None = None, limit: int | None = None
) -> list[RunRecord]:
    """The runs of experiment ``name``, newest first; ExperimentNotFoundError when none."""
    fast = getattr(store, "experiment_runs", None)
    if fast is not None:
        runs: list[RunRecord] = fast(name, status=status, limit=limit)
    else:
        runs = [
            r for r in store.iter_runs()
            if experiment_of(r) == name and (status is None or r.status == status)
        ][:limit]  # fmt: skip
    if not runs and status is None:
        names = [row["name"] for row in list_experiments(store)]
        raise ExperimentNotFoundError(
            f"No experiment named {name!r}. Experiments: {', '.join(names[:20]) or 'none yet'}"
            f"{', ...' if len(names) > 20 else ''}. Runs are filed under their pipeline's name "
            "unless `flowy run --experiment NAME` or Pipeline(..., experiment=...) names one."
        )
    return runs


def summarize(store: MetadataStore, runs: Sequence[RunRecord]) -> list[RunSummary]:
    """Parameters, metrics (with inherited ones) and step runs of each run, in a few queries."""
    ids = [r.run_id for r in runs]
    by_run = _step_runs(store, ids)
    cached_outputs = [
        artifact_id
        for steps in by_run.values()
        for rec in steps
        if rec.status == "cached"
        for artifact_id in rec.outputs.values()
    ]
    producers = _producers(store, cached_outputs)
    metrics = _metrics(store, ids, sorted(set(producers.values())))
    elsewhere = sorted({run for run, _ in producers.values()} - set(ids))
    producer_steps = {**by_run, **(_step_runs(store, elsewhere) if elsewhere else {})}
    summaries = []
    for run in runs:
        steps = by_run.get(run.run_id, [])
        values: dict[str, float] = {}
        inherited: dict[str, str] = {}
        effective = []  # cached steps with the params their producing step logged
        for rec in steps:
            if rec.status != "cached":
                effective.append(rec)
                continue
            sources = sorted({producers[a] for a in rec.outputs.values() if a in producers})
            logged: dict[str, Any] = {}
            for source_run, source_step in sources:
                for step_name, metric in metrics.get(source_run, []):
                    if step_name == source_step:
                        values[metric.name] = metric.value
                        inherited[metric.name] = source_run
                for source in producer_steps.get(source_run, []):
                    if source.step == source_step:
                        logged.update(source.params)
            effective.append(attrs.evolve(rec, params={**logged, **rec.params}))
        for _, metric in metrics.get(run.run_id, []):
            values[metric.name] = metric.value
            inherited.pop(metric.name, None)
        summaries.append(RunSummary(run, merged_params(run, effective), values, inherited, steps))
    return summaries


def merged_params(run: RunRecord, steps: Sequence[StepRunRecord]) -> dict[str, Any]:
    """The run's parameters plus what its steps logged (see the module docstring)."""
    params = dict(run.params)
    for rec in steps:
        for key, value in rec.params.items():
            if key not in params:
                params[key] = value
            elif params[key] != value:
                params[f"{rec.step}.{key}"] = value
    return params


def _step_runs(store: MetadataStore, ids: list[str]) -> dict[str, list[StepRunRecord]]:
    fast = getattr(store, "step_runs_of_runs", None)
    if fast is not None:
        found: dict[str, list[StepRunRecord]] = fast(ids)
        return found
    return {run_id: store.get_step_runs(run_id) for run_id in ids}


def _producers(store: MetadataStore, artifact_ids: list[str]) -> dict[str, tuple[str, str]]:
    if not artifact_ids:
        return {}
    fast = getattr(store, "artifact_producers", None)
    if fast is None:
        return {}  # a store that cannot say: cached steps show no metrics
    found: dict[str, tuple[str, str]] = fast(artifact_ids)
    return found


def _metrics(
    store: MetadataStore, ids: list[str], extra: list[tuple[str, str]]
) -> dict[str, list[tuple[str, MetricRecord]]]:
    fast = getattr(store, "metrics_of_runs", None)
    if fast is not None:
        found: dict[str, list[tuple[str, MetricRecord]]] = fast(ids, extra)
        return found
    return {run_id: store.get_metrics(run_id) for run_id in {*ids, *(r for r, _ in extra)}}


def metric_names(summaries: Sequence[RunSummary]) -> list[str]:
    """Metric names, the most widely logged first (ties alphabetical)."""
    counts: dict[str, int] = {}
    for summary in summaries:
        for name in summary.metrics:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def rank(summaries: Sequence[RunSummary], metric: str, mode: str = "max") -> list[RunSummary]:
    """Completed runs that have ``metric``, best first (ties: the earlier run first)."""
    if mode not in MODES:
        raise FlowyError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}.")
    have = [s for s in summaries if s.run.status == "completed" and metric in s.metrics]
    sign = -1.0 if mode == "max" else 1.0

    def order(s: RunSummary) -> tuple[bool, float, float]:
        value = s.metrics[metric]
        # A NaN (a diverged run) is never best; it would make sorted() order arbitrary.
        nan = math.isnan(value)
        return (nan, 0.0 if nan else sign * value, s.run.started_at)

    return sorted(have, key=order)


def best_run(
    store: MetadataStore, name: str, metric: str, mode: str = "max"
) -> tuple[RunSummary, list[RunSummary]]:
    """The best completed run of experiment ``name`` by ``metric``, and the full ranking."""
    summaries = summarize(store, experiment_runs(store, name))
    ranked = rank(summaries, metric, mode)
    if not ranked:
        logged = metric_names(summaries)
        raise FlowyError(
            f"No completed run of experiment {name!r} logged a metric {metric!r}. Metrics "
            f"its runs logged: {', '.join(logged) or 'none'}. Log one inside a step with "
            f"flowy.log_metric({metric!r}, value)."
        )
    return ranked[0], ranked


def compare_runs(store: MetadataStore, run_ids: Sequence[str]) -> dict[str, Any]:
    """What differs between runs; the first is the baseline that deltas are taken from.

    Sections: ``params`` and ``metrics`` (every name, with ``changed`` and
    numeric ``deltas``), ``steps`` (status, cached, code hash per run and
    whether the code changed), ``git`` and ``environment`` (every field, with
    ``changed``), and ``packages`` (only distributions whose version differs).
    """
    if len(run_ids) < 2:
        raise FlowyError("Compare needs at least two runs: flowy experiment compare RUN_A RUN_B")
    runs = [store.get_run(run_id) for run_id in run_ids]
    summaries = summarize(store, runs)
    base = summaries[0]

    def row(values: list[Any], **extra: Any) -> dict[str, Any]:
        return {**extra, "values": values, "changed": len({_key(v) for v in values}) > 1}

    params = [
        row([s.params.get(name) for s in summaries], name=name)
        for name in _union(s.params for s in summaries)
    ]
    metrics = []
    for name in _union(s.metrics for s in summaries):
        values = [s.metrics.get(name) for s in summaries]
        b = base.metrics.get(name)
        deltas = [None if v is None or b is None else v - b for v in values]
        metrics.append(
            row(values, name=name, deltas=deltas,
                inherited_from=[s.inherited.get(name) for s in summaries])
        )  # fmt: skip
    steps = []
    for step in _union({r.step: None for r in s.steps} for s in summaries):
        recs = [next((r for r in s.steps if r.step == step), None) for s in summaries]
        hashes = [r.code_hash if r is not None else None for r in recs]
        steps.append({
            "step": step,
            "status": [r.status if r is not None else None for r in recs],
            "cached": [r is not None and r.status == "cached" for r in recs],
            "code_hash": hashes,
            "code_changed": len({h for h in hashes if h}) > 1,
        })  # fmt: skip
    git = [row([_git_value(s.run.git, f) for s in summaries], field=f) for f in _GIT_FIELDS]
    env = [row([s.run.environment.get(f) for s in summaries], field=f) for f in _ENV_FIELDS]
    installed = [
        s.run.environment.get("installed") or s.run.environment.get("packages") or {}
        for s in summaries
    ]
    packages = [
        {"name": name, "values": [i.get(name) for i in installed]}
        for name in sorted(_union(installed), key=str.lower)
        if len({i.get(name) for i in installed}) > 1
    ]
    return {
        "baseline": base.run_id,
        "runs": [s.to_json() for s in summaries],
        "params": params,
        "metrics": metrics,
        "steps": steps,
        "git": git,
        "environment": env,
        "packages": packages,
    }


def _union(dicts: Any) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        seen.update(dict.fromkeys(d))
    return list(seen)


def _key(value: Any) -> str:
    return repr(value)


def _git_value(git: dict[str, Any], field: str) -> Any:
    """Git facts as compared: the uncommitted diff by digest, not by its text."""
    if field != "diff":
        return git.get(field)
    diff = git.get("diff")
    return hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None
