"""Prometheus metrics read from the metadata store at scrape time.

:class:`StoreMetrics` is a ``prometheus_client`` collector: every scrape asks the
store (through its :class:`~flowy.kernel.monitoring.MonitorReadings` capability), so
runs that are still going, and runs whose process died (marked ``crashed`` first,
as every Flowy command does on opening the store), show without anything pushed.
``flowy monitor serve`` and the UI's ``/metrics`` serve it; docs/operations.md
("Metrics") lists every metric.

Step runs are many, so they are not aggregated whole at every scrape. The collector
keeps running totals: each scrape adds the step runs recorded since the previous one
(a primary-key range, aggregated in SQL by pipeline, step and status), so a scrape
costs the new rows, not the history. Rows that finished within the last
:data:`SETTLE_SECONDS` are re-read at each scrape instead of added for good: a row
committed late (PostgreSQL takes ids before commit) is still counted. The first
scrape of a fresh process adds up the whole history once. Artifact bytes work the
same way over ``created_at``. Counters therefore never go down while a server runs;
rows deleted later (``flowy runs delete``, ``flowy gc``) stay counted until it
restarts, which Prometheus reads as a counter reset.

Labels are names only (pipeline, step, status, notifier, rule, host), never run
ids: the number of series is bounded by the pipelines and steps that exist.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flowy.kernel.errors import FlowyError
from flowy.kernel.monitoring import MonitorReadings, OperationsSnapshot, StepTotals
from flowy.tracking.metric_families import operation_families, run_families, step_families

#: Step runs (and artifacts) younger than this are re-read at each scrape (see above).
SETTLE_SECONDS = 60.0

#: (pipeline, step, status)
Key = tuple[str, str, str]


def readings_of(store: Any) -> MonitorReadings:
    """``store`` as the metrics capability, or a FlowyError saying which store lacks it."""
    if not isinstance(store, MonitorReadings):
        raise FlowyError(
            f"The metadata store {type(store).__name__} cannot serve metrics: it does not "
            "implement flowy.kernel.monitoring.MonitorReadings. Use a stack whose "
            "metadata store is flowy-store-sqlite's `sqlite` or `sql`."
        )
    return store


def require_prometheus_client() -> None:
    """A FlowyError naming the package to install when ``prometheus_client`` is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise FlowyError(
            "Serving metrics needs the prometheus-client package: "
            "`pip install prometheus-client` (flowy-cli and flowy-ui depend on it)."
        ) from exc


class StoreMetrics:
    """A collector of Flowy's metrics; ``store()`` gives the metadata store to read.

    ``store`` is called once per scrape (the UI hands each thread its own client's
    store). One instance keeps the step totals between scrapes: build one per server.
    """

    def __init__(self, store: Callable[[], Any], settle_seconds: float = SETTLE_SECONDS) -> None:
        require_prometheus_client()
        self._store = store
        self._settle = settle_seconds
        self._lock = threading.Lock()
        self._settled_id = 0
        self._steps: dict[Key, StepTotals] = {}
        self._artifacts_at = 0.0
        self._artifact_bytes: dict[str, int] = {}

    def describe(self) -> list[Any]:
        """Nothing up front: registering must not read the store (``collect`` does)."""
        return []

    def collect(self) -> Iterator[Any]:
        """One scrape: the metric families, ``flowy_up`` 0 when the store did not answer."""
        from prometheus_client.core import GaugeMetricFamily

        started = time.perf_counter()
        try:
            families = list(self._families())
            up = 1.0
        except Exception as exc:  # noqa: BLE001 - a scrape reports the failure, never 500s
            families = []
            up = 0.0
            error = GaugeMetricFamily(
                "flowy_scrape_error", "1 when the last scrape failed; the label says why.",
                labels=["error"],
            )  # fmt: skip
            error.add_metric([f"{type(exc).__name__}: {exc}"[:200]], 1.0)
            families.append(error)
        yield from families
        yield GaugeMetricFamily(
            "flowy_up", "1 when the metadata store answered this scrape, else 0.", value=up
        )
        yield GaugeMetricFamily(
            "flowy_scrape_duration_seconds",
            "Seconds this scrape took to read the metadata store.",
            value=time.perf_counter() - started,
        )

    # -- reading ----------------------------------------------------------------------

    def read(self) -> tuple[OperationsSnapshot, dict[Key, StepTotals], dict[str, int]]:
        """The snapshot, the step totals and the artifact bytes as of now."""
        store = self._store()
        try:  # as every command does on opening: a dead orchestrator's run is crashed
            store.mark_crashed_runs()
        except Exception:  # noqa: BLE001 - a read-only store still answers reads
            pass
        readings = readings_of(store)
        with self._lock:  # one scrape at a time adds to the totals
            steps = self._step_totals(readings)
            artifacts = self._artifact_totals(readings)
        return readings.monitor_snapshot(), steps, artifacts

    def _step_totals(self, readings: MonitorReadings) -> dict[Key, StepTotals]:
        cutoff = time.time() - self._settle
        settled, newest = readings.monitor_step_id_bounds(self._settled_id, cutoff)
        for group in readings.monitor_step_totals(self._settled_id, settled):
            _add(self._steps, group)
        self._settled_id = settled
        totals = dict(self._steps)
        for group in readings.monitor_step_totals(settled, newest):
            _add(totals, group)
        return totals

    def _artifact_totals(self, readings: MonitorReadings) -> dict[str, int]:
        now = time.time()
        cutoff = now - self._settle
        if cutoff > self._artifacts_at:
            for pipeline, size in readings.monitor_artifact_bytes(self._artifacts_at, cutoff):
                self._artifact_bytes[pipeline] = self._artifact_bytes.get(pipeline, 0) + size
            self._artifacts_at = cutoff
        totals = dict(self._artifact_bytes)
        for pipeline, size in readings.monitor_artifact_bytes(self._artifacts_at, now + 3600):
            totals[pipeline] = totals.get(pipeline, 0) + size
        return totals

    def _families(self) -> Iterator[Any]:
        snapshot, steps, artifacts = self.read()
        yield from run_families(snapshot)
        yield from step_families(steps)
        yield from operation_families(snapshot, artifacts)


def _add(totals: dict[Key, StepTotals], group: StepTotals) -> None:
    key = (group.pipeline, group.step, group.status)
    old = totals.get(key)
    totals[key] = group if old is None else old.plus(group)


def exposition(metrics: StoreMetrics) -> bytes:
    """One scrape of ``metrics`` in the Prometheus text format."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)  # type: ignore[arg-type]
    return bytes(generate_latest(registry))
