"""Alert rules in process, on a real SQLite store: validation, the checks, the cache.

The end-to-end behaviour over `flowy run` processes is in tests/test_alerts.py; here
each rule's edge is exercised directly with run records written to the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.alerts import evaluate_freshness, evaluate_run_end
from flowy.alerts.config import CACHE_NAME, load_alert_config
from flowy.alerts.rules import parse_period, validate
from flowy.kernel.errors import ConfigError
from flowy.kernel.records import RunRecord, StepRunRecord
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMetadataStore]:
    opened = SQLiteMetadataStore(str(tmp_path / "metadata.db"))
    try:
        yield opened
    finally:
        opened.close()


def _config(project: Path, text: str) -> None:
    (project / ".flowy").mkdir(exist_ok=True)
    (project / ".flowy" / "config.toml").write_text(text)


def _run(
    store: Any, n: int, took: float, status: str = "completed", step_took: float | None = None
) -> tuple[RunRecord, dict[str, StepRunRecord]]:
    start = 10_000.0 * (n + 1)
    run = RunRecord(f"run{n}", "etl", "running", started_at=start)
    store.create_run(run)
    rec = StepRunRecord(
        run.run_id, "load", status, started_at=start,
        finished_at=start + (step_took if step_took is not None else took), attempts=1,
    )  # fmt: skip
    store.record_step(rec)
    store.finish_run(run.run_id, status, start + took)
    run.status, run.finished_at = status, start + took
    return run, {"load": rec}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1d", 86400.0),
     ("1w", 604800.0), (" 3 h ", 10800.0)],
)  # fmt: skip
def test_periods(text: Any, seconds: float) -> None:
    assert parse_period(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5m", "0", 0, True, "5y", ""])
def test_bad_periods(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_period(bad)


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"x": {"pipeline": "p"}}, "alert rule 'x': (the table): kind must be one of run_failed"),
        ({"x": {"kind": "pager"}}, "kind must be one of run_failed, retries, duration"),
        ({"x": {"kind": "retries"}}, "alert rule 'x': max_retries: Field required"),
        ({"x": {"kind": "retries", "max_retries": -1}}, "max_retries: Input should be greater"),
        ({"x": {"kind": "duration"}}, "needs max_seconds (e.g. '10m') or factor"),
        ({"x": {"kind": "metric", "metric": "acc"}}, "needs below, above or worse_than_prod"),
        ({"x": {"kind": "metric", "below": 1}}, "alert rule 'x': metric: Field required"),
        ({"x": {"kind": "freshness", "within": "1d"}}, "alert rule 'x': pipeline: Field required"),
        ({"x": {"kind": "drift", "featureset": "f"}}, "threshold: Field required"),
        ({"x": {"kind": "run_failed", "severity": "loud"}}, "severity: Input should be 'info'"),
        ({"x": {"kind": "run_failed", "colour": 1}}, "colour: Extra inputs are not permitted"),
        ({"x": {"kind": "run_failed", "notifiers": ["nope"]}}, "notifiers nope are not config"),
        ({"a/b": {"kind": "run_failed"}}, "Invalid alert rule or notifier name 'a/b'"),
        ("rules", "'alerts' must be a table of rules"),
    ],
)
def test_a_bad_rule_names_the_file_the_rule_and_the_field(
    tmp_path: Path, alerts: Any, expected: str
) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as caught:
        validate({"alerts": alerts}, path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_a_notifier_without_a_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="notifier 'ops': type: Field required"):
        validate({"notifiers": {"ops": {"url": "http://x"}}}, tmp_path / "c.toml")


def test_duration_against_the_median_of_the_last_runs(tmp_path: Path, store: Any) -> None:
    _config(tmp_path, '[alerts.slow]\nkind = "duration"\nfactor = 3\nlast = 4\n')
    for n, took in enumerate([10, 12, 11, 100, 9]):  # the median of the last 4: 11.5
        _run(store, n, took)
    run, records = _run(store, 5, 40)
    (change,) = evaluate_run_end(store, run, records, tmp_path)
    alert = change.alert
    assert (change.event, alert.subject, alert.step) == ("firing", "etl", None)
    assert alert.details == {"seconds": 40.0, "median": 11.5, "runs": 4}
    assert "above 3 x the median 11.5s of the last 4" in alert.message
    run, records = _run(store, 6, 20)  # the median of the last 4 now includes the 40
    (change,) = evaluate_run_end(store, run, records, tmp_path)
    assert change.event == "resolved" and change.alert.id == alert.id


def test_a_step_duration_limit_and_a_failed_step_says_nothing(tmp_path: Path, store: Any) -> None:
    _config(tmp_path, '[alerts.slow]\nkind = "duration"\nstep = "load"\nmax_seconds = "1m"\n')
    run, records = _run(store, 0, 200, step_took=61)
    (change,) = evaluate_run_end(store, run, records, tmp_path)
    assert (change.alert.subject, change.alert.step) == ("etl/load", "load")
    run, records = _run(store, 1, 5, status="failed")  # no evidence: stays open
    assert evaluate_run_end(store, run, records, tmp_path) == []
    assert [a.status for a in store.list_alerts(include_resolved=True)] == ["firing"]


def test_rules_of_other_pipelines_and_cancelled_runs_are_left_alone(
    tmp_path: Path, store: Any
) -> None:
    _config(tmp_path, '[alerts.f]\nkind = "run_failed"\npipeline = "other"\n')
    run, records = _run(store, 0, 5, status="failed")
    assert evaluate_run_end(store, run, records, tmp_path) == []
    _config(tmp_path, '[alerts.f]\nkind = "run_failed"\n')
    run, records = _run(store, 1, 5, status="cancelled")
    assert evaluate_run_end(store, run, records, tmp_path) == []


def test_a_store_without_alerts_warns_and_the_run_goes_on(tmp_path: Path) -> None:
    _config(tmp_path, '[alerts.f]\nkind = "run_failed"\n')
    run = RunRecord("r", "etl", "failed", started_at=1.0, finished_at=2.0)
    with pytest.warns(RuntimeWarning, match="does not record alerts"):
        assert evaluate_run_end(object(), run, {}, tmp_path) == []
    assert evaluate_freshness(object(), project=tmp_path) == []  # no freshness rule: no read
    _config(tmp_path, '[alerts.s]\nkind = "freshness"\npipeline = "etl"\nwithin = 60\n')
    with pytest.warns(RuntimeWarning, match="freshness alerts failed"):
        assert evaluate_freshness(object(), project=tmp_path) == []


def test_one_failing_rule_spares_the_others(tmp_path: Path, store: Any) -> None:
    _config(
        tmp_path,
        '[alerts.f]\nkind = "run_failed"\n\n[alerts.d]\nkind = "drift"\nfeatureset = "x"\n'
        "threshold = 0.1\n",
    )
    run, records = _run(store, 0, 5, status="failed")
    records["load"].outputs = {"x": "no-such-artifact"}  # the drift check cannot read it
    with pytest.warns(RuntimeWarning, match="alert rule 'd'"):
        changes = evaluate_run_end(store, run, records, tmp_path)
    assert [c.alert.rule for c in changes] == ["f"]


def test_the_validated_rules_are_cached_by_the_files_digest(tmp_path: Path) -> None:
    _config(tmp_path, '[alerts.f]\nkind = "run_failed"\n')
    first = load_alert_config(tmp_path)
    cache = tmp_path / ".flowy" / CACHE_NAME
    saved = json.loads(cache.read_text())
    assert saved["config"]["rules"]["f"]["kind"] == "run_failed"
    assert load_alert_config(tmp_path).rules == first.rules  # read back from the cache
    _config(tmp_path, '[alerts.f]\nkind = "run_failed"\nseverity = "info"\n')  # an edit
    assert load_alert_config(tmp_path).rule("f").spec.severity == "info"
    cache.write_text("{not json")  # a broken cache is validated again and rewritten
    assert load_alert_config(tmp_path).rule("f").spec.severity == "info"
    assert json.loads(cache.read_text())["digest"]
    _config(tmp_path, '[alerts.f]\nkind = "run_faild"\n')
    with pytest.raises(ConfigError, match="alert rule 'f'"):
        load_alert_config(tmp_path)
