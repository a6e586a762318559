"""The :class:`flowy.kernel.monitoring.MonitorReadings` capability: SQL aggregates.

SQLAlchemy Core, so SQLite and PostgreSQL run the same statements (the stdlib SQLite
store forwards these methods to this one). Each statement groups by names only
(pipeline, step, status, notifier, host), so what comes back is bounded by the number
of pipelines and steps, not by the number of runs:

* runs by pipeline and status: a covering scan of ``ix_runs_pipeline_status_finished_at``;
* each pipeline's last success: the same index, ``MAX(finished_at)`` per group;
* step runs over a range of row ids (a primary-key range scan) joined to their run
  for the pipeline, with histogram buckets counted by ``SUM(CASE ...)``;
* artifact bytes over a range of ``created_at`` (``ix_artifacts_created_at``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from flowy.kernel.monitoring import (
    DURATION_BUCKETS,
    RSS_BUCKETS,
    MonitorReadings,
    OperationsSnapshot,
    StepTotals,
)
from sqlalchemy import Connection, and_, case, func, select

from flowy_store_sqlite import schema as s

_COMPLETED = "completed"
_FIRING = "firing"
_FAILED = "failed"


def _count_at_most(column: Any, bound: float) -> Any:
    return func.coalesce(func.sum(case((column <= bound, 1), else_=0)), 0)


class MonitorQueries(MonitorReadings):
    """Aggregates for the metrics endpoint (``flowy monitor serve``, the UI's ``/metrics``)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

    def monitor_snapshot(self) -> OperationsSnapshot:
        """See :meth:`flowy.kernel.monitoring.MonitorReadings.monitor_snapshot`."""
        runs, breakers = s.runs, s.circuit_breakers
        deliveries, alerts, beats = s.alert_deliveries, s.alerts, s.scheduler_heartbeats
        with self._read() as conn:
            by_status = conn.execute(
                select(runs.c.pipeline, runs.c.status, func.count()).group_by(
                    runs.c.pipeline, runs.c.status
                )
            ).all()
            last = conn.execute(
                select(runs.c.pipeline, func.max(runs.c.finished_at))
                .where(runs.c.status == _COMPLETED)
                .group_by(runs.c.pipeline)
            ).all()
            circuits = conn.execute(
                select(breakers.c.pipeline, breakers.c.step, breakers.c.state)
            ).all()
            failures = conn.execute(
                select(deliveries.c.notifier, func.count())
                .where(deliveries.c.status == _FAILED)
                .group_by(deliveries.c.notifier)
            ).all()
            firing = conn.execute(
                select(alerts.c.rule, func.count())
                .where(alerts.c.status == _FIRING)
                .group_by(alerts.c.rule)
            ).all()
            heartbeats = conn.execute(
                select(beats.c.host, func.max(beats.c.heartbeat_at)).group_by(beats.c.host)
            ).all()
        return OperationsSnapshot(
            runs=[(p, st, int(n)) for p, st, n in by_status],
            last_success=[(p, float(t)) for p, t in last if t is not None],
            circuits=[(p, st, state) for p, st, state in circuits],
            delivery_failures=[(n, int(c)) for n, c in failures],
            alerts_firing=[(r, int(c)) for r, c in firing],
            heartbeats=[(h, float(t)) for h, t in heartbeats if t is not None],
        )

    def monitor_step_id_bounds(self, after_id: int, finished_before: float) -> tuple[int, int]:
        """See :meth:`flowy.kernel.monitoring.MonitorReadings.monitor_step_id_bounds`."""
        steps = s.step_runs
        done = func.coalesce(steps.c.finished_at, steps.c.started_at)
        with self._read() as conn:
            newest = conn.execute(
                select(func.max(steps.c.id)).where(steps.c.id > after_id)
            ).scalar()
            if newest is None:
                return after_id, after_id
            settled = conn.execute(
                select(func.max(steps.c.id)).where(
                    and_(steps.c.id > after_id, done < finished_before)
                )
            ).scalar()
        return int(settled if settled is not None else after_id), int(newest)

    def monitor_step_totals(self, after_id: int, up_to_id: int) -> list[StepTotals]:
        """See :meth:`flowy.kernel.monitoring.MonitorReadings.monitor_step_totals`."""
        if up_to_id <= after_id:
            return []
        steps, runs = s.step_runs, s.runs
        started = case((steps.c.started_at > 0, steps.c.started_at), else_=None)
        duration = steps.c.finished_at - started
        rss = steps.c.peak_rss_bytes
        columns = [
            runs.c.pipeline,
            steps.c.step,
            steps.c.status,
            func.count(),
            func.coalesce(func.sum(case((steps.c.attempts > 1, steps.c.attempts - 1), else_=0)), 0),
            func.coalesce(func.sum(duration), 0.0),
            func.count(duration),
            *[_count_at_most(duration, b) for b in DURATION_BUCKETS],
            func.coalesce(func.sum(steps.c.cpu_seconds), 0.0),
            func.coalesce(func.sum(steps.c.read_bytes), 0),
            func.coalesce(func.sum(steps.c.written_bytes), 0),
            func.coalesce(func.sum(rss), 0.0),
            func.count(rss),
            *[_count_at_most(rss, b) for b in RSS_BUCKETS],
        ]
        query = (
            select(*columns)
            .select_from(steps.join(runs, runs.c.run_id == steps.c.run_id))
            .where(and_(steps.c.id > after_id, steps.c.id <= up_to_id))
            .group_by(runs.c.pipeline, steps.c.step, steps.c.status)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        nd, nr = len(DURATION_BUCKETS), len(RSS_BUCKETS)
        found = []
        for row in rows:
            pipeline, step, status, count, retries, d_sum, d_count, *rest = row
            d_buckets, rest = rest[:nd], rest[nd:]
            cpu, read, written, rss_sum, rss_count, *r_buckets = rest
            assert len(r_buckets) == nr
            found.append(
                StepTotals(
                    pipeline,
                    step,
                    status,
                    int(count),
                    int(retries),
                    float(d_sum),
                    int(d_count),
                    tuple(int(n) for n in d_buckets),
                    float(cpu),
                    int(read),
                    int(written),
                    float(rss_sum),
                    int(rss_count),
                    tuple(int(n) for n in r_buckets),
                )
            )
        return found

    def monitor_artifact_bytes(self, after: float, up_to: float) -> list[tuple[str, int]]:
        """See :meth:`flowy.kernel.monitoring.MonitorReadings.monitor_artifact_bytes`."""
        artifacts, runs = s.artifacts, s.runs
        query = (
            select(runs.c.pipeline, func.sum(artifacts.c.size))
            .select_from(artifacts.join(runs, runs.c.run_id == artifacts.c.run_id))
            .where(and_(artifacts.c.created_at > after, artifacts.c.created_at <= up_to))
            .group_by(runs.c.pipeline)
        )
        with self._read() as conn:
            return [(p, int(n or 0)) for p, n in conn.execute(query).all()]
