"""The Prometheus metrics read from the store, after real runs of the real ``flowy``.

Runs that completed, failed, were served from the cache, retried a step, crashed
(the orchestrator SIGKILLed by its own step) and one still running while scraped;
a breaker opened by a failure, an alert whose notifier's receiver is down, and a
running ``flowy scheduler``'s heartbeat; the
exposition of ``flowy monitor dump`` and of a live ``flowy monitor serve`` is
parsed with prometheus_client's parser, names, labels and values checked.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FLOWY

PIPELINES = {
    "good.py": """
from flowy import Pipeline, step

@step
def load() -> int:
    return 41

@step
def train(load: int) -> int:
    return load + 1

pipeline = Pipeline("good", [load, train])
""",
    "bad.py": """
from flowy import Pipeline, step

@step(cache=False)
def explode() -> int:
    raise RuntimeError("no")

pipeline = Pipeline("bad", [explode])
""",
    "flaky.py": """
import os
from pathlib import Path
from flowy import Pipeline, step

@step(cache=False, retries=2, retry_backoff=0.01)
def wobble() -> int:
    marker = Path(os.environ["OUT_DIR"]) / "wobbled"
    if not marker.exists():
        marker.touch()
        raise RuntimeError("first attempt fails")
    return 1

pipeline = Pipeline("flaky", [wobble])
""",
    "crash.py": """
import os, signal
from flowy import Pipeline, step

@step(cache=False)
def die() -> int:
    os.kill(os.getpid(), signal.SIGKILL)  # sequential: the orchestrator itself
    return 0

pipeline = Pipeline("crash", [die])
""",
    "breaker.py": """
from flowy import Pipeline, step

@step(cache=False, circuit_breaker={"failures": 1, "reset_after": 600})
def call_service() -> int:
    raise ConnectionError("service down")

pipeline = Pipeline("guarded", [call_service])
""",
    "slow.py": """
import os, time
from pathlib import Path
from flowy import Pipeline, step

@step(cache=False)
def wait() -> int:
    out = Path(os.environ["OUT_DIR"])
    (out / "slow-started").touch()
    deadline = time.monotonic() + 120
    while not (out / "slow-go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return 0

pipeline = Pipeline("slow", [wait])
""",
}


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(families: dict[str, Any], sample_name: str, **labels: str) -> float | None:
    for family in families.values():
        for sample in family.samples:
            if sample.name == sample_name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return None


def _wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def operated(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> Iterator[dict[str, Any]]:
    """A project after good (twice: the second cached), bad, flaky and crash runs, with a
    slow run in progress while the test scrapes."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    for name, source in PIPELINES.items():
        (project / name).write_text(source)
    env = flowy_env(
        tmp_path / "home", ["flowy-notifiers"], OUT_DIR=str(tmp_path),
        FLOWY_PROJECT=str(project), FLOWY_NVML="0",
    )  # fmt: skip
    flowy = flowy_runner(project, env)
    # A notifier whose receiver is down (nothing listens on the port): its delivery fails.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    flowy("alert", "notifier", "add", "ops", "--type", "webhook", "--set", f"url={dead}",
          "--set", "attempts=1", "--set", "timeout=2")  # fmt: skip
    flowy("alert", "add", "bad-failed", "--kind", "run_failed", "--pipeline", "bad",
          "--notifier", "ops")  # fmt: skip
    flowy("run", "good.py")
    flowy("run", "good.py")
    flowy("run", "bad.py", code=1)
    flowy("run", "flaky.py")
    crashed = flowy("run", "crash.py", code=None)
    assert crashed.returncode != 0
    flowy("run", "breaker.py", code=1)  # one failure opens its breaker
    slow = subprocess.Popen(
        [*FLOWY, "run", "slow.py"], cwd=project, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    scheduler = subprocess.Popen(  # no schedules: it only beats
        [*FLOWY, "scheduler", "--poll", "0.2"], cwd=project, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for((tmp_path / "slow-started").exists, "the slow run to start")
        _wait_for(
            lambda: (
                "flowy_scheduler_heartbeat_timestamp_seconds{" in flowy("monitor", "dump").stdout
            ),
            "the scheduler's first heartbeat",
        )
        yield {"project": project, "env": env, "flowy": flowy, "out": tmp_path}
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)
        (tmp_path / "slow-go").touch()
        try:
            slow.wait(timeout=120)
        finally:
            if slow.poll() is None:
                slow.kill()


def _check_exposition(text: str) -> None:
    families = _families(text)
    runs = families["flowy_runs"]
    assert runs.type == "counter"
    assert _value(families, "flowy_runs_total", pipeline="good", status="completed") == 2
    assert _value(families, "flowy_runs_total", pipeline="bad", status="failed") == 1
    assert _value(families, "flowy_runs_total", pipeline="flaky", status="completed") == 1
    assert _value(families, "flowy_runs_total", pipeline="crash", status="crashed") == 1
    assert _value(families, "flowy_runs_running", pipeline="slow") == 1
    assert _value(families, "flowy_last_success_timestamp_seconds", pipeline="good") > 0
    assert _value(families, "flowy_last_success_timestamp_seconds", pipeline="bad") is None
    assert _value(families, "flowy_cache_hits_total", pipeline="good", step="train") == 1
    assert _value(families, "flowy_cache_misses_total", pipeline="good", step="train") == 1
    assert _value(families, "flowy_step_retries_total", pipeline="flaky", step="wobble") == 1
    assert _value(families, "flowy_step_runs_total", pipeline="bad", step="explode",
                  status="failed") == 1  # fmt: skip
    assert families["flowy_step_duration_seconds"].type == "histogram"
    assert (
        _value(families, "flowy_step_duration_seconds_count", pipeline="good", step="load") == 1
    )  # fmt: skip (the cached run has no duration)
    assert _value(families, "flowy_step_duration_seconds_bucket", pipeline="good", step="load",
                  le="+Inf") == 1  # fmt: skip
    assert _value(families, "flowy_step_cpu_seconds_total", pipeline="good", step="load") > 0
    assert _value(families, "flowy_step_peak_rss_bytes_count", pipeline="good", step="load") == 1
    assert _value(families, "flowy_artifact_bytes_written_total", pipeline="good") > 0
    assert _value(families, "flowy_up") == 1
    assert _value(families, "flowy_scrape_duration_seconds") >= 0
    breaker = {"pipeline": "guarded", "step": "call_service"}
    assert _value(families, "flowy_circuit_breaker_state", state="open", **breaker) == 1
    assert _value(families, "flowy_circuit_breaker_state", state="closed", **breaker) == 0
    assert _value(families, "flowy_notifier_failures_total", notifier="ops") == 1
    assert _value(families, "flowy_alerts_firing", rule="bad-failed") == 1
    beats = families["flowy_scheduler_heartbeat_timestamp_seconds"].samples
    assert len(beats) == 1 and beats[0].value > time.time() - 3600
    # Bounded cardinality: no label holds a run id, whatever the metric.
    for family in families.values():
        for sample in family.samples:
            assert "run_id" not in sample.labels
            assert set(sample.labels) <= {"pipeline", "step", "status", "le", "state",
                                          "notifier", "rule", "host"}  # fmt: skip


def test_dump_prints_every_kind_of_run(operated: dict[str, Any]) -> None:
    _check_exposition(operated["flowy"]("monitor", "dump").stdout)


@pytest.mark.slow
def test_serve_answers_scrapes_and_refuses_other_paths(operated: dict[str, Any]) -> None:
    server = subprocess.Popen(
        [*FLOWY, "monitor", "serve", "--port", "0"], cwd=operated["project"],
        env=operated["env"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert "/metrics" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        scraped = httpx.get(url, timeout=30)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        _check_exposition(scraped.text)
        again = _families(httpx.get(url, timeout=30).text)  # totals are not counted twice
        assert _value(again, "flowy_runs_total", pipeline="good", status="completed") == 2
        assert _value(again, "flowy_step_duration_seconds_count", pipeline="good",
                      step="load") == 1  # fmt: skip
        assert httpx.get(url.replace("/metrics", "/nope"), timeout=30).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0  # SIGTERM ends it cleanly


@pytest.mark.slow
def test_serve_with_a_token_refuses_scrapes_without_it(operated: dict[str, Any]) -> None:
    token_file = operated["out"] / "token"
    token_file.write_text("s3cret-token\n")
    server = subprocess.Popen(
        [*FLOWY, "monitor", "serve", "--port", "0", "--token-file", str(token_file)],
        cwd=operated["project"], env=operated["env"], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        url = server.stderr.readline().split(" at ", 1)[1].split()[0]
        assert httpx.get(url, timeout=30).status_code == 401
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401
        good = httpx.get(url, headers={"Authorization": "Bearer s3cret-token"}, timeout=30)
        assert good.status_code == 200 and "flowy_runs_total" in good.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bad_invocations_say_what_to_do(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    flowy = flowy_runner(project, flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project)))
    exposed = flowy("monitor", "serve", "--host", "0.0.0.0", code=1)
    assert "--token-file" in exposed.stderr and "Refusing" in exposed.stderr
    empty = tmp_path / "empty"
    empty.write_text("")
    refused = flowy("monitor", "serve", "--token-file", str(empty), code=1)
    assert "empty" in refused.stderr
    assert "Prometheus" in flowy("monitor", "serve", "--help").stdout
    # An empty store: the endpoint still answers, with flowy_up 1 and no runs.
    families = _families(flowy("monitor", "dump").stdout)
    assert _value(families, "flowy_up") == 1
    assert not list(families["flowy_runs"].samples)
