"""The metrics endpoint's aggregates (:mod:`flowy_store_sqlite.monitor_rows`) on SQLite
(both stores) and PostgreSQL: grouped by names only, step runs over id ranges."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.monitoring import DURATION_BUCKETS, RSS_BUCKETS, MonitorReadings
from flowy.kernel.records import ArtifactRef, RunRecord, StepRunRecord
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore
from sqlalchemy import create_engine, text

_spec = importlib.util.spec_from_file_location(
    "flowy_monitor_pg_fixtures", Path(__file__).with_name("test_postgres.py")
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
server_url = _pg.server_url
pg_url = _pg.pg_url


@pytest.fixture(params=["sqlite3", "sqlalchemy", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "postgres":
        url, cls = request.getfixturevalue("pg_url"), SQLMetadataStore
    else:
        url = f"sqlite:///{tmp_path / 'flowy.db'}"
        cls = SQLiteMetadataStore if request.param == "sqlite3" else SQLMetadataStore
    opened = cls(url)
    yield opened
    opened.close()


def _run(store: Any, run_id: str, pipeline: str, status: str, finished: float | None) -> None:
    store.create_run(RunRecord(run_id, pipeline, "running", started_at=finished or time.time()))
    if status != "running":
        store.finish_run(run_id, status, finished)


def _fill(store: Any) -> float:
    """Four runs and their steps, at times before ``now``; returns ``now``."""
    now = time.time()
    _run(store, "r1", "train", "completed", now - 100)
    _run(store, "r2", "train", "completed", now - 50)
    _run(store, "r3", "train", "failed", now - 40)
    _run(store, "r4", "etl", "running", None)
    steps = [
        StepRunRecord("r1", "fit", "completed", now - 103, now - 100, attempts=3,
                      cpu_seconds=2.0, peak_rss_bytes=100 * 2**20, written_bytes=10),
        StepRunRecord("r2", "fit", "completed", now - 50.5, now - 50, attempts=1,
                      cpu_seconds=0.5, peak_rss_bytes=3 * 2**30, written_bytes=5),
        StepRunRecord("r3", "fit", "failed", now - 45, now - 40, attempts=2),
        StepRunRecord("r2", "load", "cached", now - 51, now - 51, attempts=0),
    ]  # fmt: skip
    for rec in steps:
        store.record_step(rec)
    ref = ArtifactRef("model", "file:///m", "b3", 1234, "json", "1", "builtins.int",
                      artifact_id="a1")  # fmt: skip
    store.record_step(StepRunRecord("r1", "save", "completed", now - 99, now - 98, 1), [ref])
    return now


def test_the_store_offers_the_capability(store: Any) -> None:
    assert isinstance(store, MonitorReadings)


def test_snapshot_groups_runs_by_pipeline_and_status(store: Any) -> None:
    now = _fill(store)
    snap = store.monitor_snapshot()
    assert sorted(snap.runs) == [
        ("etl", "running", 1), ("train", "completed", 2), ("train", "failed", 1)
    ]  # fmt: skip
    ((pipeline, at),) = snap.last_success
    assert pipeline == "train" and at == pytest.approx(now - 50)  # r2, the newest success
    assert snap.circuits == [] and snap.delivery_failures == [] and snap.heartbeats == []


def test_step_totals_over_id_ranges_add_up(store: Any) -> None:
    _fill(store)
    settled, newest = store.monitor_step_id_bounds(0, time.time() + 10)
    assert settled == newest and newest >= 5
    whole = {(t.pipeline, t.step, t.status): t for t in store.monitor_step_totals(0, newest)}
    fit = whole[("train", "fit", "completed")]
    assert fit.count == 2 and fit.retries == 2
    assert fit.duration_count == 2 and fit.duration_sum == pytest.approx(3.5, abs=0.01)
    assert len(fit.duration_buckets) == len(DURATION_BUCKETS)
    assert fit.duration_buckets[DURATION_BUCKETS.index(1.0)] == 1  # the 0.5 s one
    assert fit.cpu_seconds == pytest.approx(2.5) and fit.written_bytes == 15
    assert fit.rss_count == 2 and len(fit.rss_buckets) == len(RSS_BUCKETS)
    assert fit.rss_buckets[0] == 0 and fit.rss_buckets[1] == 1  # 100 MiB <= 128 MiB
    assert whole[("train", "fit", "failed")].retries == 1
    assert whole[("train", "load", "cached")].count == 1
    # Two ranges add up to the whole.
    half = newest - 2
    parts = store.monitor_step_totals(0, half) + store.monitor_step_totals(half, newest)
    assert sum(t.count for t in parts) == sum(t.count for t in whole.values())
    assert store.monitor_step_totals(newest, newest) == []
    # Nothing finished before long ago: nothing settled.
    assert store.monitor_step_id_bounds(0, 0.0) == (0, newest)
    assert store.monitor_step_id_bounds(newest, time.time()) == (newest, newest)


def test_artifact_bytes_by_pipeline_over_a_time_range(store: Any) -> None:
    _fill(store)
    assert store.monitor_artifact_bytes(0, time.time() + 10) == [("train", 1234)]
    assert store.monitor_artifact_bytes(time.time() + 10, time.time() + 20) == []


def test_breakers_alerts_and_heartbeats_are_read_from_their_tables(store: Any) -> None:
    url = store.url
    engine = create_engine(url)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO circuit_breakers (pipeline, step, state, failures, updated_at) "
                "VALUES ('train', 'fit', 'open', 3, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO alerts (rule, kind, subject, status, severity, message, details, "
                "fired_at, updated_at) VALUES ('late', 'freshness', 'train', 'firing', 'error', "
                "'m', '{}', :now, :now)"
            ),
            {"now": now},
        )
        alert_id = conn.execute(text("SELECT id FROM alerts")).scalar()
        for status in ("failed", "failed", "sent"):
            conn.execute(
                text(
                    "INSERT INTO alert_deliveries (alert_id, notifier, event, status, "
                    "attempts, at) VALUES (:a, 'hook', 'firing', :s, 3, :now)"
                ),
                {"a": alert_id, "s": status, "now": now},
            )
        for sid, at in (("s1", now - 10), ("s2", now)):
            conn.execute(
                text(
                    "INSERT INTO scheduler_heartbeats (scheduler_id, host, pid, started_at, "
                    "heartbeat_at) VALUES (:id, 'box', 1, :at, :at)"
                ),
                {"id": sid, "at": at},
            )
    engine.dispose()  # fmt: skip
    snap = store.monitor_snapshot()
    assert snap.circuits == [("train", "fit", "open")]
    assert snap.delivery_failures == [("hook", 2)]
    assert snap.alerts_firing == [("late", 1)]
    assert snap.heartbeats == [("box", pytest.approx(now))]
