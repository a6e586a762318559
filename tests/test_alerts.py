"""Alerts end to end: rules in .flowy/config.toml, real `flowy run` processes, a real receiver.

Every run-end rule kind fires on one run, stays one incident on the next (no new
alert, no new message), and resolves once when its condition clears; the
webhook receiver gets exactly one firing and one resolved message per rule.
Freshness is checked the way the scheduler checks it. A notifier that is down,
and a bad rule, never fail a run.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.webhook_receiver import receiving

PIPELINE = """
import time
from pathlib import Path

import flowy
from flowy import Context, FeatureSet, Pipeline, step


@step
def features(mean: float):
    return FeatureSet([mean], name="feats", statistics={"x": {"mean": mean}})


@step(retries=2, retry_backoff=0, register_model="clf")
def train(features, acc: float, pause: float, flaky: str) -> dict:
    marker = Path(f"flaky-{flaky}")
    if flaky and not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("flaky")
    time.sleep(pause)
    flowy.log_metric("acc", acc)
    return {"weights": [acc]}


@step
def check(train: dict, fail: int) -> int:
    if fail:
        raise RuntimeError("the check failed")
    return 1


pipeline = Pipeline(
    "nightly",
    [features, train, check],
    context=Context(mean=1.0, acc=0.9, pause=0.0, flaky="", fail=0),
)
"""

RULES = """
ui_url = "http://ui.example:8080"

[alerts.failed]
kind = "run_failed"
pipeline = "nightly"

[alerts.retried]
kind = "retries"
step = "train"
max_retries = 0

[alerts.slow]
kind = "duration"
step = "train"
max_seconds = 1.0

[alerts.low-acc]
kind = "metric"
metric = "acc"
below = 0.8

[alerts.worse]
kind = "metric"
metric = "acc"
worse_than_production = "clf"

[alerts.drifted]
kind = "drift"
featureset = "feats"
threshold = 0.2

[alerts.stale]
kind = "freshness"
pipeline = "nightly"
within = "1h"
notifiers = []

[notifiers.ops]
type = "webhook"
url = "{env:WEBHOOK_URL}"
secret = "{env:WEBHOOK_SECRET}"
backoff = 0
"""

#: Loaded in the `flowy` subprocesses beside the first-party plugins.
NOTIFIERS = ["flowy-notifiers"]
RUN_END_RULES = ["failed", "retried", "slow", "low-acc", "worse", "drifted"]


def _said(done: Any) -> str:
    """What a command printed, its line wrapping undone."""
    return " ".join((done.stdout + done.stderr).split())


def _alerts(project: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(project / ".flowy" / "metadata.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM alerts ORDER BY id")]


def _deliveries(project: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(project / ".flowy" / "metadata.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM alert_deliveries ORDER BY id")]


def _setup(tmp_path: Path, flowy_env: Callable[..., dict[str, str]], **env: str) -> Path:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    (project / ".flowy" / "config.toml").write_text(RULES)
    return project


@pytest.mark.slow
def test_every_rule_kind_fires_once_and_resolves_once_across_real_runs(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    project = _setup(tmp_path, flowy_env)
    with receiving() as hook:
        env = flowy_env(
            tmp_path / "home", NOTIFIERS, FLOWY_PROJECT=str(project), WEBHOOK_URL=hook.url,
            WEBHOOK_SECRET="topsecret",
        )  # fmt: skip
        flowy = flowy_runner(project, env)
        flowy("run", "pipeline.py")  # healthy: nothing fires
        assert _alerts(project) == []
        flowy("model", "promote", "clf", "1", "--to", "production")
        bad = ["-p", "mean=2.0", "-p", "acc=0.7", "-p", "pause=1.5", "-p", "fail=1"]
        flowy("run", "pipeline.py", *bad, "-p", "flaky=a", code=1)
        fired = _alerts(project)
        assert sorted(a["rule"] for a in fired) == sorted(RUN_END_RULES)
        assert all(a["status"] == "firing" for a in fired)
        hook.wait_for(len(RUN_END_RULES))
        flowy("run", "pipeline.py", *bad, "-p", "flaky=b", code=1)  # still failing
        assert _alerts(project) == fired  # one incident each: nothing new, nothing changed
        flowy("run", "pipeline.py", "-p", "mean=1.1", "-p", "acc=0.95")  # all clear
        after = _alerts(project)
        received = hook.wait_for(2 * len(RUN_END_RULES))
        shown = json.loads(flowy("alerts", "--all", "--json").stdout)
    assert [a["id"] for a in after] == [a["id"] for a in fired]
    assert all(a["status"] == "resolved" and a["resolved_at"] for a in after)
    by_rule = {a["rule"]: a for a in fired}
    failed_run = by_rule["failed"]["run_id"]
    assert (
        by_rule["failed"]["step"] == "check" and "the check failed" in by_rule["failed"]["message"]
    )
    assert (by_rule["retried"]["subject"], by_rule["retried"]["step"]) == ("nightly/train", "train")
    assert (
        by_rule["slow"]["step"] == "train" and "above the limit of 1s" in by_rule["slow"]["message"]
    )
    assert "below 0.8" in by_rule["low-acc"]["message"]
    # about the version the failing run registered (2), compared with production's (1)
    assert (by_rule["worse"]["model"], by_rule["worse"]["model_version"]) == ("clf", 2)
    assert json.loads(by_rule["worse"]["details"])["production_version"] == 1
    assert "worse than production clf v1 (0.9)" in by_rule["worse"]["message"]
    assert by_rule["drifted"]["artifact_id"] and "x (100%)" in by_rule["drifted"]["message"]
    assert {a["run_id"] for a in fired} == {failed_run}
    # the receiver: one firing and one resolved message per rule, signed, with the UI link
    events = sorted((r.json()["rule"], r.json()["event"]) for r in received)
    assert events == sorted((rule, e) for rule in RUN_END_RULES for e in ("firing", "resolved"))
    first = next(r for r in received if r.json()["event"] == "firing")
    assert first.json()["link"] == f"http://ui.example:8080/runs/{failed_run}"
    assert first.headers["X-Flowy-Signature"].startswith("sha256=")
    deliveries = _deliveries(project)
    assert len(deliveries) == 12 and {d["status"] for d in deliveries} == {"sent"}
    assert [a["status"] for a in shown] == ["resolved"] * len(RUN_END_RULES)
    assert shown[0]["link"].startswith("http://ui.example:8080/runs/")


def test_freshness_fires_on_a_scheduler_tick_and_resolves(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    from flowy.alerts import evaluate_freshness
    from flowy_store_sqlite.sqlite import SQLiteMetadataStore

    project = _setup(tmp_path, flowy_env)
    env = flowy_env(
        tmp_path / "home", NOTIFIERS, FLOWY_PROJECT=str(project), WEBHOOK_URL="http://x/"
    )
    flowy_runner(project, env)("run", "pipeline.py", "-p", "fail=1", code=1)
    # at run end: the pipeline never completed, so it is stale already
    (stale,) = [a for a in _alerts(project) if a["rule"] == "stale"]
    assert stale["status"] == "firing" and "never completed" in stale["message"]
    flowy_runner(project, env)("run", "pipeline.py")
    (resolved,) = [a for a in _alerts(project) if a["rule"] == "stale"]
    assert resolved["status"] == "resolved"
    store = SQLiteMetadataStore(str(project / ".flowy" / "metadata.db"))
    try:
        later = time.time() + 2 * 3600
        changes = evaluate_freshness(store, later, project=project)
        assert [(c.event, c.alert.rule) for c in changes] == [("firing", "stale")]
        assert evaluate_freshness(store, later + 60, project=project) == []  # one incident
        back = evaluate_freshness(store, project=project)
        assert [(c.event, c.alert.rule) for c in back] == [("resolved", "stale")]
    finally:
        store.close()
    assert [a["status"] for a in _alerts(project) if a["rule"] == "stale"] == ["resolved"] * 2
    flowy = flowy_runner(project, {**env, "COLUMNS": "300"})
    assert "No alerts firing." in _said(flowy("alerts"))
    listed = _said(flowy("alerts", "--all"))
    assert "stale" in listed and "resolved" in listed and "never completed" not in listed


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_notifier_that_is_down_never_fails_the_run(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    (project / ".flowy" / "config.toml").write_text(
        '[alerts.low]\nkind = "metric"\nmetric = "acc"\nbelow = 0.8\n\n'
        f'[notifiers.ops]\ntype = "webhook"\nurl = "http://127.0.0.1:{_closed_port()}/"\n'
        'attempts = 2\nbackoff = 0\n\n[notifiers.mail]\ntype = "webhook"\n'
        'url = "http://127.0.0.1:1/"\nsecret = "{env:UNSET_SECRET_FOR_TEST}"\n'
    )
    env = flowy_env(tmp_path / "home", NOTIFIERS, FLOWY_PROJECT=str(project))
    flowy_runner(project, env)("run", "pipeline.py", "-p", "acc=0.5")  # exits 0
    (alert,) = _alerts(project)
    assert alert["status"] == "firing"
    deliveries = {d["notifier"]: d for d in _deliveries(project)}
    assert deliveries["ops"]["status"] == "failed" and deliveries["ops"]["attempts"] == 2
    assert "cannot reach http://127.0.0.1" in deliveries["ops"]["error"]
    assert deliveries["mail"]["status"] == "failed" and deliveries["mail"]["attempts"] == 0
    assert "UNSET_SECRET_FOR_TEST, which is not set" in deliveries["mail"]["error"]


def test_bad_rules_are_refused_with_the_file_and_rule_and_never_fail_a_run(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    config = project / ".flowy" / "config.toml"
    config.write_text('[alerts.typo]\nkind = "metric"\nmetrc = "acc"\nbelow = 1\n')
    flowy = flowy_runner(
        project,
        flowy_env(tmp_path / "home", NOTIFIERS, FLOWY_PROJECT=str(project), COLUMNS="500"),
    )
    listed = _said(flowy("alert", "list", code=1))
    assert str(config) in listed and "alert rule 'typo'" in listed and "metrc" in listed
    ran = _said(flowy("run", "pipeline.py"))  # the run completes; the warning names the problem
    assert "evaluating alerts" in ran and "typo" in ran
    config.write_text('[alerts.x]\nkind = "pager"\n')
    assert "kind must be one of run_failed" in _said(flowy("alert", "list", code=1))
    config.write_text('[alerts.x]\nkind = "run_failed"\nnotifiers = ["nobody"]\n')
    assert "notifiers nobody are not configured" in _said(flowy("alert", "list", code=1))
    config.write_text('ui_url = "http://ui:1"\n')
    before = config.read_text()
    added = flowy("alert", "add", "f", "--kind", "freshness", "--within", "soon", code=1)
    assert "'soon' is not a period" in _said(added) and config.read_text() == before
    flowy("alert", "add", "f", "--kind", "freshness", "--pipeline", "nightly", "--within", "2h")
    flowy("config", "set", "progress", "false")  # a setting written keeps the rules
    assert "[alerts.f]" in config.read_text() and 'ui_url = "http://ui:1"' in config.read_text()
    rules = json.loads(flowy("alert", "list", "--json").stdout)["rules"]
    assert rules == [
        {"name": "f", "kind": "freshness", "pipeline": "nightly", "severity": "error",
         "description": "", "within": 7200.0, "notifiers": []},
    ]  # fmt: skip
    flowy("alert", "remove", "f")
    assert "No alert rule named 'f'" in _said(flowy("alert", "remove", "f", code=1))


def test_alert_test_sends_a_real_message(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Any]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    with receiving() as hook, receiving([500, 500, 500]) as broken:
        flowy = flowy_runner(
            project, flowy_env(tmp_path / "home", NOTIFIERS, FLOWY_PROJECT=str(project))
        )
        flowy("alert", "notifier", "add", "ops", "--type", "webhook", "--set", f"url={hook.url}")
        retry = ["--set", "attempts=3", "--set", "backoff=0"]
        flowy(
            "alert",
            "notifier",
            "add",
            "bad",
            "--type",
            "webhook",
            "--set",
            f"url={broken.url}",
            *retry,
        )
        flowy("alert", "add", "down", "--kind", "run_failed", "--notifier", "ops")
        out = flowy("alert", "test", "down")
        assert "ops: sent" in out.stdout
        (req,) = hook.wait_for(1)
        assert req.json()["event"] == "test" and req.json()["rule"] == "down"
        failed = flowy("alert", "test", "--notifier", "bad", code=1)
        assert "bad: failed" in _said(failed) and "HTTP 500" in _said(failed)
        assert len(broken.wait_for(3)) == 3
    refused = flowy("alert", "notifier", "remove", "ops", code=1)
    assert "alert rule 'down'" in _said(refused)
