"""What a metadata store tells the metrics endpoint: aggregates, never single runs.

A separate capability from :class:`~flowy.kernel.contracts.MetadataStore` (as
:class:`~flowy.kernel.catalog.Catalog` is), so a store that only records runs stays
valid: ``flowy monitor serve`` and the UI's ``/metrics`` check for
:class:`MonitorReadings` and say plainly when the stack's store lacks it. The SQL store
(flowy-store-sqlite, ``monitor_rows.py``) implements it with SQL aggregates.

Every figure is grouped by names (pipeline, step, status, notifier, host), never by
run: what comes back is bounded by the number of pipelines and steps, however many
runs the store holds. Step runs are aggregated over a range of their row ids, so the
reader (:mod:`flowy.tracking.store_metrics`) adds each range once and keeps totals,
instead of aggregating every step run at every scrape.
"""

from __future__ import annotations

import abc

import attrs

#: Upper bounds (seconds) of the step-duration histogram's buckets (``+Inf`` is implied).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 10800.0)
#: Upper bounds (bytes) of the peak-RSS histogram's buckets (``+Inf`` is implied).
RSS_BUCKETS = tuple(float(2**n) for n in range(26, 37))  # 64 MiB .. 64 GiB


@attrs.frozen
class StepTotals:
    """Step runs of one pipeline, step and status, added up (one row of a range)."""

    pipeline: str
    step: str
    status: str
    count: int
    """Step runs in the group."""
    retries: int
    """Attempts beyond the first, summed."""
    duration_sum: float
    """Seconds from start to end, summed over the runs that have both."""
    duration_count: int
    """Runs with a duration (started and finished)."""
    duration_buckets: tuple[int, ...]
    """Cumulative counts of runs with a duration at most each of :data:`DURATION_BUCKETS`."""
    cpu_seconds: float
    """CPU seconds, summed over the runs that measured them."""
    read_bytes: int
    written_bytes: int
    rss_sum: float
    """Peak RSS bytes, summed over the runs that measured it."""
    rss_count: int
    """Runs that measured their peak RSS."""
    rss_buckets: tuple[int, ...]
    """Cumulative counts of runs with a peak RSS at most each of :data:`RSS_BUCKETS`."""

    def plus(self, other: StepTotals) -> StepTotals:
        """Both groups' figures added (labelled as this one)."""

        def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(x + y for x, y in zip(a, b, strict=True))

        return StepTotals(
            self.pipeline,
            self.step,
            self.status,
            self.count + other.count,
            self.retries + other.retries,
            self.duration_sum + other.duration_sum,
            self.duration_count + other.duration_count,
            tuple(
                a + b for a, b in zip(self.duration_buckets, other.duration_buckets, strict=True)
            ),
            self.cpu_seconds + other.cpu_seconds,
            self.read_bytes + other.read_bytes,
            self.written_bytes + other.written_bytes,
            self.rss_sum + other.rss_sum,
            self.rss_count + other.rss_count,
            add(self.rss_buckets, other.rss_buckets),
        )


@attrs.frozen
class OperationsSnapshot:
    """The small aggregates read whole at every scrape (each bounded by names, not runs)."""

    runs: list[tuple[str, str, int]] = attrs.field(factory=list)
    """``(pipeline, status, count)`` of every run, ``running`` ones included."""
    last_success: list[tuple[str, float]] = attrs.field(factory=list)
    """``(pipeline, finished_at)`` of each pipeline's newest completed run."""
    circuits: list[tuple[str, str, str]] = attrs.field(factory=list)
    """``(pipeline, step, state)`` of every circuit breaker."""
    delivery_failures: list[tuple[str, int]] = attrs.field(factory=list)
    """``(notifier, count)`` of alert deliveries that failed."""
    alerts_firing: list[tuple[str, int]] = attrs.field(factory=list)
    """``(rule, count)`` of alert incidents still firing."""
    heartbeats: list[tuple[str, float]] = attrs.field(factory=list)
    """``(host, heartbeat_at)``: each host's newest ``flowy scheduler`` heartbeat."""


class MonitorReadings(abc.ABC):
    """The aggregates ``flowy monitor serve`` and the UI's ``/metrics`` expose."""

    @abc.abstractmethod
    def monitor_snapshot(self) -> OperationsSnapshot:
        """Runs by pipeline and status, last successes, breakers, alerts, scheduler heartbeats."""

    @abc.abstractmethod
    def monitor_step_id_bounds(self, after_id: int, finished_before: float) -> tuple[int, int]:
        """``(settled, newest)`` step-run row ids above ``after_id``.

        ``newest`` is the highest id; ``settled`` the highest id of a row that finished
        before ``finished_before`` (``after_id`` when there is none). Rows up to
        ``settled`` are added to the totals for good; rows above are re-read each time
        (on PostgreSQL ids are taken before commit, so a row may appear late below a
        newer one: it has ``finished_before``'s margin to do so).
        """

    @abc.abstractmethod
    def monitor_step_totals(self, after_id: int, up_to_id: int) -> list[StepTotals]:
        """The step runs with row ids in ``(after_id, up_to_id]``, added up by group."""

    @abc.abstractmethod
    def monitor_artifact_bytes(self, after: float, up_to: float) -> list[tuple[str, int]]:
        """``(pipeline, bytes)`` of the artifacts recorded in ``(after, up_to]`` (seconds
        since the epoch): what each pipeline's steps wrote (a cached re-use writes none)."""
