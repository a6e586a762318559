"""Each rule kind's check: what one finished run (or the clock) says about a rule.

A check returns :class:`Finding` objects, one per subject the run gives evidence
about: ``firing`` True when the condition holds, False when it is known to be
clear (so an open incident resolves). A subject the run says nothing about (a
step that was cached or skipped, a metric not logged) yields no finding and
leaves its incident as it is.

:class:`RunFacts` holds the run and reads the store at most once per kind of
fact (metrics, artifacts, medians), so 50 rules cost a handful of queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flowy.kernel.alerting import AlertLog
from flowy.kernel.assets import ASSET_KEY
from flowy.kernel.records import COMPLETED, FAILED, RunRecord, StepRunRecord


class Finding:
    """A rule's verdict on one subject.

    A plain class, as the others of this module: attrs compiles each class's methods
    when it is defined, milliseconds that every run with rules would pay.
    """

    __slots__ = (
        "artifact_id", "details", "firing", "message", "model", "model_version",
        "pipeline", "run_id", "step", "subject",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 - subject, verdict, message and where, as alerts list them
        self,
        subject: str,
        firing: bool,
        message: str,
        pipeline: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
        *,
        artifact_id: str | None = None,
        model: str | None = None,
        model_version: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.subject, self.firing, self.message = subject, firing, message
        self.pipeline, self.run_id, self.step = pipeline, run_id, step
        self.artifact_id, self.model, self.model_version = artifact_id, model, model_version
        self.details = details if details is not None else {}

    def __repr__(self) -> str:
        state = "firing" if self.firing else "clear"
        return f"<Finding {self.subject} {state}: {self.message}>"


class RunFacts:
    """A finished run and lazily read, cached facts about it and its history."""

    def __init__(
        self,
        store: Any,
        log: AlertLog,
        run: RunRecord,
        status: str,
        records: Mapping[str, StepRunRecord],
    ) -> None:
        self.store, self.log, self.run, self.status, self.records = (
            store, log, run, status, records,
        )  # fmt: skip
        self._cache: dict[Any, Any] = {}

    def cached(self, key: Any, read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def metrics(self, run_id: str | None = None) -> list[tuple[str, Any]]:
        rid = run_id or self.run.run_id
        return list(self.cached(("metrics", rid), lambda: self.store.get_metrics(rid)))

    def durations(self, step: str | None, last: int) -> list[float]:
        return list(
            self.cached(
                ("durations", step, last),
                lambda: self.log.recent_durations(
                    self.run.pipeline, step, limit=last, exclude_run=self.run.run_id
                ),
            )
        )

    def featuresets(self, run_id: str, steps: Mapping[str, StepRunRecord] | None = None) -> dict:
        """Output or asset name -> (artifact id, statistics) of a run's FeatureSets."""

        def read() -> dict[str, tuple[str, dict[str, Any]]]:
            records = steps if steps is not None else _steps(self.store, run_id)
            found: dict[str, tuple[str, dict[str, Any]]] = {}
            for rec in records.values():
                for output, artifact_id in rec.outputs.items():
                    ref = self.store.get_artifact(artifact_id)
                    asset = (ref.metadata or {}).get(ASSET_KEY) or {}
                    if asset.get("type") != "featureset":
                        continue
                    stats = (asset.get("fields") or {}).get("statistics") or {}
                    found[output] = (artifact_id, stats)
                    if asset.get("name"):
                        found[str(asset["name"])] = (artifact_id, stats)
            return found

        result: dict[str, tuple[str, dict[str, Any]]] = self.cached(("fs", run_id), read)
        return result


def _median(values: list[float]) -> float:
    """The median (the statistics module costs 6 ms to import in every run that alerts)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _steps(store: Any, run_id: str) -> dict[str, StepRunRecord]:
    return {r.step: r for r in store.get_step_runs(run_id)}


def _duration(rec: StepRunRecord | RunRecord) -> float | None:
    if rec.finished_at is None or not rec.started_at:
        return None
    return max(0.0, rec.finished_at - rec.started_at)


# -- the kinds ----------------------------------------------------------------


def run_failed(rule: Any, facts: RunFacts) -> Iterator[Finding]:
    run = facts.run
    if facts.status not in (COMPLETED, FAILED):
        return  # a cancelled run says nothing about failure
    failed = [r for r in facts.records.values() if r.status == FAILED]
    first = failed[0] if failed else None
    yield Finding(
        run.pipeline,
        facts.status == FAILED,
        (
            f"Run {run.run_id} of pipeline {run.pipeline!r} failed"
            + (f" in step {first.step!r}: {first.error}" if first and first.error else "")
            if facts.status == FAILED
            else f"Run {run.run_id} of pipeline {run.pipeline!r} completed"
        ),
        run.pipeline,
        run.run_id,
        first.step if first else None,
        details={"status": facts.status},
    )


def retries(rule: Any, facts: RunFacts) -> Iterator[Finding]:
    run = facts.run
    for rec in facts.records.values():
        if rule.step not in (None, rec.step) or rec.attempts < 1:
            continue
        used = rec.attempts - 1
        firing = used > rule.max_retries
        yield Finding(
            f"{run.pipeline}/{rec.step}",
            firing,
            f"Step {rec.step!r} of run {run.run_id} was retried {used} time(s)"
            + (f", more than {rule.max_retries}" if firing else f" (limit {rule.max_retries})"),
            run.pipeline,
            run.run_id,
            rec.step,
            details={"retries": used, "max_retries": rule.max_retries},
        )


def duration(rule: Any, facts: RunFacts) -> Iterator[Finding]:
    run = facts.run
    if rule.step is None:
        if facts.status != COMPLETED:
            return
        targets: list[tuple[str | None, float | None]] = [(None, _duration(run))]
    else:
        rec = facts.records.get(rule.step)
        if rec is None or rec.status != COMPLETED:
            return
        targets = [(rule.step, _duration(rec))]
    for step, took in targets:
        if took is None:
            continue
        limits: list[str] = []
        details: dict[str, Any] = {"seconds": round(took, 3)}
        if rule.max_seconds is not None and took > rule.max_seconds:
            limits.append(f"the limit of {rule.max_seconds:g}s")
        if rule.factor is not None:
            history = facts.durations(step, rule.last)
            if history:
                median = _median(history)
                details.update(median=round(median, 3), runs=len(history))
                if took > rule.factor * median:
                    limits.append(
                        f"{rule.factor:g} x the median {median:.3g}s of the last {len(history)}"
                    )
        what = f"Step {step!r}" if step else f"Run of pipeline {run.pipeline!r}"
        yield Finding(
            f"{run.pipeline}/{step}" if step else run.pipeline,
            bool(limits),
            f"{what} took {took:.3g}s in run {run.run_id}"
            + (f", above {' and '.join(limits)}" if limits else ", within its limits"),
            run.pipeline,
            run.run_id,
            step,
            details=details,
        )


def metric(rule: Any, facts: RunFacts) -> Iterator[Finding]:
    run = facts.run
    value = _last_metric(facts.metrics(), rule.metric, rule.step)
    if value is None:
        return
    step, current = value
    problems: list[str] = []
    details: dict[str, Any] = {"metric": rule.metric, "value": current}
    if rule.below is not None and current < rule.below:
        problems.append(f"below {rule.below:g}")
    if rule.above is not None and current > rule.above:
        problems.append(f"above {rule.above:g}")
    model, version = rule.model or rule.worse_than_production, None
    if model:  # the version this run registered is what the alert is about
        version = facts.cached(
            ("version", model), lambda: facts.log.run_model_version(model, run.run_id)
        )
    if rule.worse_than_production:
        production = _production(facts, rule.worse_than_production)
        if production is not None:
            prod_version, prod_run = production
            theirs = _last_metric(facts.metrics(prod_run), rule.metric, rule.step)
            if theirs is not None and prod_run != run.run_id:
                details.update(production_value=theirs[1], production_version=prod_version)
                worse = current < theirs[1] if rule.higher_is_better else current > theirs[1]
                if worse:
                    problems.append(
                        f"worse than production {rule.worse_than_production} v{prod_version} "
                        f"({theirs[1]:g})"
                    )
    yield Finding(
        f"{run.pipeline}/{rule.metric}",
        bool(problems),
        f"Metric {rule.metric} = {current:g} in run {run.run_id}"
        + (f": {' and '.join(problems)}" if problems else " is within its limits"),
        run.pipeline,
        run.run_id,
        step,
        model=model,
        model_version=version,
        details=details,
    )


def _last_metric(
    metrics: list[tuple[str, Any]], name: str, step: str | None
) -> tuple[str, float] | None:
    found = None
    for at_step, record in metrics:
        if record.name == name and step in (None, at_step):
            found = (at_step, float(record.value))
    return found


def _production(facts: RunFacts, model: str) -> tuple[int, str] | None:
    def read() -> tuple[int, str] | None:
        return facts.log.production_model(model)

    result: tuple[int, str] | None = facts.cached(("production", model), read)
    return result


def drift(rule: Any, facts: RunFacts) -> Iterator[Finding]:
    run = facts.run
    mine = facts.featuresets(run.run_id, facts.records).get(rule.featureset)
    if mine is None:
        return
    reference = rule.reference_run
    if reference is None:
        previous = facts.log.last_successful_run(run.pipeline, exclude_run=run.run_id)
        if previous is None:
            return
        reference = previous[0]
    theirs = facts.featuresets(reference).get(rule.featureset)
    if theirs is None:
        return
    artifact_id, stats = mine
    drifted: dict[str, float] = {}
    for feature, values in stats.items():
        if rule.features is not None and feature not in rule.features:
            continue
        ref_values = theirs[1].get(feature)
        if not isinstance(values, dict) or not isinstance(ref_values, dict):
            continue
        now, ref = values.get(rule.statistic), ref_values.get(rule.statistic)
        if not isinstance(now, int | float) or not isinstance(ref, int | float):
            continue
        change = abs(now - ref) / max(abs(ref), 1e-12)
        if change > rule.threshold:
            drifted[feature] = round(change, 4)
    names = ", ".join(f"{f} ({c:.0%})" for f, c in sorted(drifted.items()))
    yield Finding(
        f"{run.pipeline}/{rule.featureset}",
        bool(drifted),
        (
            f"FeatureSet {rule.featureset!r} drifted from run {reference} beyond "
            f"{rule.threshold:.0%} ({rule.statistic}): {names}"
            if drifted
            else f"FeatureSet {rule.featureset!r} is within {rule.threshold:.0%} of run {reference}"
        ),
        run.pipeline,
        run.run_id,
        artifact_id=artifact_id,
        details={"reference_run": reference, "drifted": drifted, "statistic": rule.statistic},
    )


def freshness(rule: Any, log: AlertLog, now: float | None = None) -> Finding:
    """Whether ``rule.pipeline`` has had a successful run within ``rule.within`` of ``now``."""
    now = time.time() if now is None else now
    last = log.last_successful_run(rule.pipeline)
    age = None if last is None else now - last[1]
    firing = age is None or age > rule.within
    if last is None:
        message = f"Pipeline {rule.pipeline!r} has never completed a run"
    else:
        message = (
            f"Pipeline {rule.pipeline!r} last completed {_ago(age or 0.0)} ago (run {last[0]})"
            + (f", more than {_ago(rule.within)}" if firing else "")
        )
    return Finding(
        rule.pipeline,
        firing,
        message,
        rule.pipeline,
        last[0] if last else None,
        details={"age_seconds": None if age is None else round(age, 3), "within": rule.within},
    )


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


#: Kind -> check at run end (freshness is checked at run end too, in evaluate).
RUN_END_CHECKS: dict[str, Callable[[Any, RunFacts], Iterator[Finding]]] = {
    "run_failed": run_failed,
    "retries": retries,
    "duration": duration,
    "metric": metric,
    "drift": drift,
}
