"""Retention rules: which runs ``flowy gc`` may delete (the selection alone)."""

from __future__ import annotations

from flowy.kernel.records import RunRecord
from flowy.tracking.retention import DAY, Retention, expired_runs

NOW = 100 * DAY


def run(run_id: str, pipeline: str, age_days: float, status: str = "completed") -> RunRecord:
    return RunRecord(run_id, pipeline, status, started_at=NOW - age_days * DAY)


RUNS = [
    run("a1", "a", 10),
    run("a2", "a", 5),
    run("a3", "a", 1),
    run("a4", "a", 0.5, status="running"),
    run("b1", "b", 30),
]


def ids(runs: list[RunRecord]) -> list[str]:
    return [r.run_id for r in runs]


def test_no_rule_expires_nothing() -> None:
    assert expired_runs(RUNS, Retention(), NOW) == []


def test_keep_last_counts_per_pipeline_and_never_expires_running_runs() -> None:
    # a4 (running) counts as one of the newest two of "a", and is never expired itself.
    assert ids(expired_runs(RUNS, Retention(keep_last_runs=2), NOW)) == ["a1", "a2"]
    assert ids(expired_runs(RUNS, Retention(keep_last_runs=0), NOW)) == ["b1", "a1", "a2", "a3"]


def test_keep_days() -> None:
    assert ids(expired_runs(RUNS, Retention(keep_days=6), NOW)) == ["b1", "a1"]


def test_a_run_is_kept_when_any_rule_keeps_it() -> None:
    # keep_last=1 alone would expire a1-a3; keep_days=6 keeps a2 and a3.
    kept_by_either = Retention(keep_last_runs=1, keep_days=6)
    assert ids(expired_runs(RUNS, kept_by_either, NOW)) == ["a1"]


def test_settings_and_overrides() -> None:
    settings = {"keep_last_runs": 3, "keep_days": None}
    assert Retention.from_settings(settings) == Retention(3, None)
    assert Retention.from_settings(settings, keep_days=2) == Retention(3, 2.0)
    assert Retention.from_settings(settings, keep_last_runs=0) == Retention(0, None)
    assert "3 newest runs" in Retention(3, None).describe()
