"""Flowy's Prometheus metric families, built from what the store's aggregates say.

:mod:`flowy.tracking.store_metrics` reads the store; this module names and describes
every metric (docs/operations.md, "Metrics", lists them), using ``prometheus_client``'s
metric families (imported on use).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowy.kernel.monitoring import (
    DURATION_BUCKETS,
    RSS_BUCKETS,
    OperationsSnapshot,
    StepTotals,
)

#: Step statuses that did not run the step's code (a fallback ran instead, or nothing):
#: no duration, not a cache miss.
NOT_RUN = frozenset({"cached", "skipped", "fallback", "pending", "running"})
#: What a circuit breaker can be (``flowy circuits list``).
BREAKER_STATES = ("closed", "open", "half_open")


def run_families(snapshot: OperationsSnapshot) -> Iterator[Any]:
    """Runs by pipeline and status, running runs, each pipeline's last success."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    finished = CounterMetricFamily(
        "flowy_runs", "Runs that ended, by pipeline and status (completed, failed, "
        "cancelled, crashed).", labels=["pipeline", "status"],
    )  # fmt: skip
    running = GaugeMetricFamily(
        "flowy_runs_running", "Runs in progress now, by pipeline.", labels=["pipeline"]
    )
    for pipeline, status, count in sorted(snapshot.runs):
        if status == "running":
            running.add_metric([pipeline], count)
        else:
            finished.add_metric([pipeline, status], count)
    last = GaugeMetricFamily(
        "flowy_last_success_timestamp_seconds",
        "When each pipeline's newest completed run ended (seconds since the epoch).",
        labels=["pipeline"],
    )
    for pipeline, at in sorted(snapshot.last_success):
        last.add_metric([pipeline], at)
    yield from (finished, running, last)


def step_families(totals: dict[tuple[str, str, str], StepTotals]) -> Iterator[Any]:
    """Step runs by status, durations, cache hits and misses, retries, resources."""
    from prometheus_client.core import (
        CounterMetricFamily,
        HistogramMetricFamily,
    )

    ps = ["pipeline", "step"]
    runs = CounterMetricFamily(
        "flowy_step_runs", "Step runs recorded, by pipeline, step and status.",
        labels=[*ps, "status"],
    )  # fmt: skip
    hits = CounterMetricFamily(
        "flowy_cache_hits", "Step runs served from the cache (status cached).", labels=ps
    )
    misses = CounterMetricFamily(
        "flowy_cache_misses",
        "Step runs that ran their code instead of being served from the cache.",
        labels=ps,
    )
    retries = CounterMetricFamily(
        "flowy_step_retries", "Attempts beyond the first, summed over step runs.", labels=ps
    )
    cpu = CounterMetricFamily(
        "flowy_step_cpu_seconds", "CPU seconds the steps used (where measured).", labels=ps
    )
    read = CounterMetricFamily(
        "flowy_step_read_bytes", "Bytes the steps read (read system calls).", labels=ps
    )
    written = CounterMetricFamily(
        "flowy_step_written_bytes", "Bytes the steps wrote (write system calls).", labels=ps
    )
    duration = HistogramMetricFamily(
        "flowy_step_duration_seconds",
        "Seconds from a step's start to its end (steps that ran, all attempts).",
        labels=ps,
    )
    rss = HistogramMetricFamily(
        "flowy_step_peak_rss_bytes", "Peak resident memory of step runs (where measured).",
        labels=ps,
    )  # fmt: skip
    per_step: dict[tuple[str, str], StepTotals] = {}
    cached: dict[tuple[str, str], int] = {}
    ran: dict[tuple[str, str], int] = {}
    for (pipeline, step, status), group in sorted(totals.items()):
        key = (pipeline, step)
        runs.add_metric([pipeline, step, status], group.count)
        if status == "cached":
            cached[key] = cached.get(key, 0) + group.count
        if status in NOT_RUN:
            continue
        ran[key] = ran.get(key, 0) + group.count
        old = per_step.get(key)
        per_step[key] = group if old is None else old.plus(group)
    for key in sorted(set(cached) | set(ran)):
        hits.add_metric(list(key), cached.get(key, 0))
        misses.add_metric(list(key), ran.get(key, 0))
    for key, group in sorted(per_step.items()):
        labels = list(key)
        retries.add_metric(labels, group.retries)
        cpu.add_metric(labels, group.cpu_seconds)
        read.add_metric(labels, group.read_bytes)
        written.add_metric(labels, group.written_bytes)
        duration.add_metric(
            labels,
            _buckets(DURATION_BUCKETS, group.duration_buckets, group.duration_count),
            group.duration_sum,
        )
        if group.rss_count:
            rss.add_metric(
                labels, _buckets(RSS_BUCKETS, group.rss_buckets, group.rss_count), group.rss_sum
            )
    yield from (runs, hits, misses, retries, duration, cpu, read, written, rss)


def _buckets(bounds: tuple[float, ...], counts: tuple[int, ...], total: int) -> list[Any]:
    from prometheus_client.utils import floatToGoString

    pairs = [(floatToGoString(b), n) for b, n in zip(bounds, counts, strict=True)]  # type: ignore[no-untyped-call]
    return [*pairs, ("+Inf", total)]


def operation_families(snapshot: OperationsSnapshot, artifacts: dict[str, int]) -> Iterator[Any]:
    """Artifact bytes, circuit breakers, notifier failures, firing alerts, the scheduler."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    written = CounterMetricFamily(
        "flowy_artifact_bytes_written",
        "Bytes of artifacts the pipeline's steps wrote (a cached re-use writes none).",
        labels=["pipeline"],
    )
    for pipeline, size in sorted(artifacts.items()):
        written.add_metric([pipeline], size)
    breakers = GaugeMetricFamily(
        "flowy_circuit_breaker_state",
        "1 for each breaker's current state (closed, open, half_open), else 0.",
        labels=["pipeline", "step", "state"],
    )
    for pipeline, step, state in sorted(snapshot.circuits):
        for candidate in sorted({*BREAKER_STATES, state}):
            breakers.add_metric([pipeline, step, candidate], 1.0 if candidate == state else 0.0)
    failures = CounterMetricFamily(
        "flowy_notifier_failures",
        "Alert deliveries a notifier gave up on (after its retries).",
        labels=["notifier"],
    )
    for notifier, count in sorted(snapshot.delivery_failures):
        failures.add_metric([notifier], count)
    firing = GaugeMetricFamily(
        "flowy_alerts_firing", "Alert incidents firing now, by rule.", labels=["rule"]
    )
    for rule, count in sorted(snapshot.alerts_firing):
        firing.add_metric([rule], count)
    beat = GaugeMetricFamily(
        "flowy_scheduler_heartbeat_timestamp_seconds",
        "The newest heartbeat of `flowy scheduler` on each host (seconds since the epoch).",
        labels=["host"],
    )
    for host, at in sorted(snapshot.heartbeats):
        beat.add_metric([host], at)
    yield from (written, breakers, failures, firing, beat)
