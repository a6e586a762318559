"""Alert rows (:mod:`flowy_store_sqlite.alert_rows`) on SQLite (both stores) and PostgreSQL.

One firing alert per rule and subject (processes racing to fire agree), resolve
once, deliveries recorded, and the history reads rules compare against.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.alerting import AlertLog, AlertRecord, DeliveryRecord, alert_log
from flowy.kernel.errors import ConfigError
from flowy.kernel.records import RunRecord, StepRunRecord
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

_spec = importlib.util.spec_from_file_location(
    "flowy_alert_pg_fixtures", Path(__file__).with_name("test_postgres.py")
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
server_url = _pg.server_url
pg_url = _pg.pg_url


@pytest.fixture(params=["sqlite3", "sqlalchemy", pytest.param("postgres", marks=pytest.mark.slow)])
def url_and_class(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url"), SQLMetadataStore
    cls: Any = SQLiteMetadataStore if request.param == "sqlite3" else SQLMetadataStore
    return f"sqlite:///{tmp_path / 'flowy.db'}", cls


@pytest.fixture
def store(url_and_class: tuple[str, Any]) -> Any:
    url, cls = url_and_class
    opened = cls(url)
    try:
        yield opened
    finally:
        opened.close()


def _alert(rule: str = "r", subject: str = "train", at: float = 100.0) -> AlertRecord:
    return AlertRecord(
        rule, "run_failed", subject, "firing", "error", "it failed", at, at,
        pipeline="train", run_id="run1", step="fit", artifact_id="a1", model="m",
        model_version=2, details={"x": [1, 2]},
    )  # fmt: skip


def test_the_store_is_the_capability(store: Any) -> None:
    assert isinstance(store, AlertLog) and alert_log(store) is store


def test_a_store_without_it_gets_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="does not record alerts"):
        alert_log(object())


def test_one_firing_alert_per_rule_and_subject_then_resolved_once(store: Any) -> None:
    fired = store.fire_alert(_alert())
    assert fired is not None and fired.id is not None
    assert store.fire_alert(_alert(at=200.0)) is None  # the incident is open: deduplicated
    other = store.fire_alert(_alert(subject="score"))
    assert other is not None
    firing = store.firing_alerts()
    assert [(a.rule, a.subject) for a in firing] == [("r", "train"), ("r", "score")]
    assert firing[0].details == {"x": [1, 2]} and firing[0].model_version == 2
    assert store.resolve_alert(fired.id, 300.0, "it completed")
    assert not store.resolve_alert(fired.id, 301.0, "again")  # resolved once
    listed = store.list_alerts(include_resolved=True)
    assert [(a.subject, a.status) for a in listed] == [("score", "firing"), ("train", "resolved")]
    assert listed[1].resolved_at == 300.0 and listed[1].message == "it completed"
    assert [a.subject for a in store.list_alerts()] == ["score"]
    again = store.fire_alert(_alert(at=400.0))  # a new incident after the old one cleared
    assert again is not None and again.id != fired.id


def test_deliveries_are_recorded_and_filtered(store: Any) -> None:
    fired = store.fire_alert(_alert())
    store.record_delivery(DeliveryRecord(fired.id, "ops", "firing", "sent", 1, 10.0))
    store.record_delivery(DeliveryRecord(fired.id, "mail", "firing", "failed", 3, 11.0, "down"))
    failed = store.alert_deliveries(status="failed")
    assert [(d.notifier, d.attempts, d.error) for d in failed] == [("mail", 3, "down")]
    assert len(store.alert_deliveries(fired.id)) == 2


def test_history_reads(store: Any) -> None:
    for i, (status, took) in enumerate([("completed", 10), ("failed", 50), ("completed", 30)]):
        run = RunRecord(f"run{i}", "train", "running", started_at=1000.0 * (i + 1))
        store.create_run(run)
        store.record_step(
            StepRunRecord(
                run.run_id,
                "fit",
                status,
                started_at=run.started_at,
                finished_at=run.started_at + took / 2,
                attempts=1,
            )
        )
        store.finish_run(run.run_id, status, run.started_at + took)
    assert store.recent_durations("train", None, limit=5) == [30.0, 10.0]
    assert store.recent_durations("train", "fit", limit=5) == [15.0, 5.0]
    assert store.recent_durations("train", None, limit=5, exclude_run="run2") == [10.0]
    assert store.last_successful_run("train") == ("run2", 3030.0)
    assert store.last_successful_run("train", exclude_run="run2") == ("run0", 1010.0)
    assert store.last_successful_run("other") is None
    assert store.production_model("clf") is None
    assert store.production_model("clf") is None  # promoted versions: tests/test_alerts.py
    assert store.run_model_version("clf", "run0") is None


def _fire(url: str, cls_name: str, barrier: Any, out: Any) -> None:
    cls = SQLiteMetadataStore if cls_name == "SQLiteMetadataStore" else SQLMetadataStore
    store = cls(url)
    barrier.wait()
    out.put(store.fire_alert(_alert()) is not None)
    store.close()


def test_processes_racing_to_fire_open_one_incident(url_and_class: tuple[str, Any]) -> None:
    url, cls = url_and_class
    cls(url).close()  # create the schema first
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_fire, args=(url, cls.__name__, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    try:
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(60)
    assert sorted(results) == [False, False, False, True]
    store = cls(url)
    try:
        assert len(store.firing_alerts()) == 1
    finally:
        store.close()
