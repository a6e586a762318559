"""Experiment tracking through the real ``flowy`` command, in subprocesses.

One project is shared by the module: a pipeline that logs metrics, parameters
and a file is run into the experiment ``tune`` four times (two parameter
values, a cached re-run, and a run after the training code changed), so each
test only reads. The browser test opens the exported HTML in headless
Chromium with networking disabled.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from blake3 import blake3

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = """
import flowy
from flowy import Context, Pipeline, step


@step
def prepare(rows: int) -> list:
    return list(range(rows))


@step
def train(prepare: list, lr: float, note: str) -> dict:
    for i in range(500):
        flowy.log_metric("loss", 1.0 / (i + 1 + lr), step=i)
    flowy.log_metric("accuracy", 0.5 + lr)
    flowy.log_params({"optimizer": "sgd", "batch": 32})
    with open("confusion.csv", "w") as f:
        f.write(f"lr,{lr}\\n")
    flowy.log_artifact("confusion.csv")
    return {"weights": [lr] * len(prepare), "version": 1}


pipeline = Pipeline(
    "trainer", [prepare, train], Context(rows=3, lr=0.1, note="plain"), experiment="tune"
)
"""


def run_id_of(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith("Run "):
            return line.split()[1]
    raise AssertionError(f"no run id in:\n{stdout}")


@pytest.fixture(scope="module")
def tracked(
    tmp_path_factory: pytest.TempPathFactory,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
) -> tuple[Path, Flowy, dict[str, str]]:
    """The shared project, its runner, and run ids by role (a, b, cached, changed, other)."""
    base = tmp_path_factory.mktemp("tracking")
    project = base / "proj"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    flowy = flowy_runner(project, flowy_env(base / "home", COLUMNS="200"))
    runs = {
        "a": run_id_of(flowy("run", "pipe.py", "-p", "lr=0.1").stdout),
        "b": run_id_of(flowy("run", "pipe.py", "-p", "lr=0.3", "-p", "note=<b>bold</b>").stdout),
    }
    runs["cached"] = run_id_of(
        flowy("run", "pipe.py", "-p", "lr=0.3", "-p", "note=<b>bold</b>").stdout
    )
    source = (project / "pipe.py").read_text().replace('"version": 1', '"version": 2')
    (project / "pipe.py").write_text(source)
    runs["changed"] = run_id_of(flowy("run", "pipe.py", "-p", "lr=0.2").stdout)
    runs["other"] = run_id_of(flowy("run", "pipe.py", "--experiment", "side-study").stdout)
    return project, flowy, runs


def as_json(done: subprocess.CompletedProcess[str]) -> object:
    return json.loads(done.stdout)


def user_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1
    text = " ".join(done.stderr.split())
    assert "Error:" in text and "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in text, text


# -- what a step logs --------------------------------------------------------------


def test_logged_params_metrics_and_files_are_recorded(tracked) -> None:
    _project, flowy, runs = tracked
    shown = as_json(flowy("runs", "show", runs["a"], "--json"))
    train = next(s for s in shown["steps"] if s["step"] == "train")
    assert train["params"]["optimizer"] == "sgd" and train["params"]["batch"] == 32
    assert len([m for m in train["metrics"] if m["name"] == "loss"]) == 500
    logged = train["outputs"]["confusion.csv"]
    assert logged["materializer"] == "file" and logged["metadata"]["filename"] == "confusion.csv"
    stored = Path(logged["uri"]).read_bytes()
    assert stored == b"lr,0.1\n"
    assert logged["checksum"] == "blake3:" + blake3(stored).hexdigest()
    # Shown as a series summary, not 500 values.
    text = flowy("runs", "show", runs["a"]).stdout
    assert "last of 500" in text and "optimizer" not in text.split("Steps")[0]
    assert 'optimizer="sgd"' in text.split("Steps")[1]  # a step's logged params, in its row


def test_a_logged_file_loads_back_through_artifacts_show(tracked) -> None:
    _, flowy, runs = tracked
    refs = as_json(flowy("artifacts", "list", "--run", runs["b"], "--json"))
    (ref,) = [r for r in refs if r["name"] == "confusion.csv"]
    shown = as_json(flowy("artifacts", "show", ref["artifact_id"], "--json"))
    assert shown["value"] == repr(b"lr,0.3\n")


def test_a_cached_rerun_does_not_lose_the_logged_file_or_the_cache(tracked) -> None:
    _, flowy, runs = tracked
    shown = as_json(flowy("runs", "show", runs["cached"], "--json"))
    assert {s["step"]: s["status"] for s in shown["steps"]} == {
        "prepare": "cached",
        "train": "cached",
    }


# -- experiments ----------------------------------------------------------------


def test_experiment_list_and_runs(tracked) -> None:
    _, flowy, runs = tracked
    rows = {r["name"]: r for r in as_json(flowy("experiment", "list", "--json"))}
    assert rows["tune"]["runs"] == 4 and rows["tune"]["completed"] == 4
    assert rows["tune"]["pipelines"] == ["trainer"]
    assert rows["side-study"]["runs"] == 1
    listed = as_json(flowy("experiment", "runs", "tune", "--json"))
    assert [r["run_id"] for r in listed] == [runs["changed"], runs["cached"], runs["b"], runs["a"]]
    cached = listed[1]
    # A cached step's metrics and logged params come from the run that produced its outputs.
    assert cached["metrics"]["accuracy"] == pytest.approx(0.8)
    assert cached["inherited_metrics"] == {"accuracy": runs["b"], "loss": runs["b"]}
    assert cached["params"]["optimizer"] == "sgd"
    assert "tune" in flowy("experiment", "list").stdout


def test_best_by_max_and_min(tracked) -> None:
    _, flowy, runs = tracked
    best = as_json(flowy("experiment", "best", "tune", "--metric", "accuracy", "--json"))
    assert best["run_id"] == runs["b"]  # tied with its cached re-run: the earlier wins
    assert best["value"] == pytest.approx(0.8) and best["params"]["lr"] == 0.3
    worst = as_json(
        flowy("experiment", "best", "tune", "-m", "accuracy", "--mode", "min", "--json")
    )
    assert worst["run_id"] == runs["a"]
    text = flowy("experiment", "best", "tune", "-m", "accuracy").stdout
    assert runs["b"] in text and "accuracy=0.8" in text


def test_best_and_runs_explain_unknown_names(tracked) -> None:
    _, flowy, _ = tracked
    user_error(
        flowy("experiment", "best", "tune", "-m", "f1", code=None),
        "logged a metric 'f1'", "accuracy, loss",
    )  # fmt: skip
    user_error(flowy("experiment", "runs", "nope", code=None), "No experiment named 'nope'", "tune")


def test_compare_shows_params_metric_deltas_code_and_cached_steps(tracked) -> None:
    _, flowy, runs = tracked
    ids = [runs["a"], runs["cached"], runs["changed"]]
    data = as_json(flowy("experiment", "compare", *ids, "--json"))
    assert data["baseline"] == runs["a"]
    params = {p["name"]: p for p in data["params"]}
    assert params["lr"]["values"] == [0.1, 0.3, 0.2] and params["lr"]["changed"]
    assert params["rows"]["changed"] is False
    metrics = {m["name"]: m for m in data["metrics"]}
    assert metrics["accuracy"]["deltas"][0] == 0
    assert metrics["accuracy"]["deltas"][1] == pytest.approx(0.2)
    assert metrics["accuracy"]["deltas"][2] == pytest.approx(0.1)
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["train"]["status"] == ["completed", "cached", "completed"]
    assert steps["train"]["cached"] == [False, True, False]
    assert steps["train"]["code_changed"] is True
    assert steps["prepare"]["code_changed"] is False
    assert {f["field"] for f in data["git"]} >= {"commit", "branch", "dirty"}
    assert {f["field"]: f["changed"] for f in data["environment"]}["python"] is False
    assert data["packages"] == []
    text = flowy("experiment", "compare", *ids).stdout
    for fragment in ("Parameters", "Metrics", "(+0.2)", "code changed", "cached", "Environment"):
        assert fragment in text, text


def test_compare_needs_two_runs_and_known_ids(tracked) -> None:
    _, flowy, runs = tracked
    user_error(flowy("experiment", "compare", runs["a"], code=None), "at least two runs")
    user_error(flowy("experiment", "compare", runs["a"], "ffffffffff", code=None), "ffffffffff")


def test_export_json_and_markdown(tracked) -> None:
    project, flowy, runs = tracked
    flowy("experiment", "export", "tune", "--format", "json", "-o", "out/report.json")
    report = json.loads((project / "out" / "report.json").read_text())
    assert report["metric"] == "accuracy" and report["best_run"] == runs["b"]
    assert next(r["run_id"] for r in report["runs"]) == runs["a"]  # oldest first
    assert set(report["varying_params"]) == {"lr", "note"}
    flowy("experiment", "export", "tune", "--format", "md", "-o", "report.md", "-m", "loss")
    md = (project / "report.md").read_text()
    assert "| run | started | status | lr | note | accuracy | loss |" in md
    assert "## loss over runs" in md and runs["a"][:12] in md


def test_export_html_is_self_contained_and_escaped(tracked) -> None:
    project, flowy, _runs = tracked
    done = flowy("experiment", "export", "tune", "-o", "report.html", "--metric", "accuracy")
    assert "report.html" in done.stderr
    page = (project / "report.html").read_text()
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    for needle in ("<script", "<link", "src=", "href=", "url(", "@import"):
        assert needle not in page.lower(), needle
    assert page.count("<tr") == 5 and page.count('class="point"') == 4


def test_run_experiment_option_and_unknown_metric_export(tracked) -> None:
    _, flowy, runs = tracked
    listed = as_json(flowy("experiment", "runs", "side-study", "--json"))
    assert [r["run_id"] for r in listed] == [runs["other"]]
    assert listed[0]["experiment"] == "side-study"
    user_error(
        flowy("experiment", "export", "tune", "-o", "x.html", "-m", "f1", code=None),
        "'f1'", "accuracy, loss",
    )  # fmt: skip


# -- environment ----------------------------------------------------------------


def test_runs_env_and_requirements(tracked) -> None:
    from packaging.requirements import Requirement

    project, flowy, runs = tracked
    env = as_json(flowy("runs", "env", runs["a"], "--json"))
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["installed"]["flowy-core"] and env["installed"]["pytest"]
    text = flowy("runs", "env", runs["a"]).stdout
    assert "distributions" in text and "-r" in text
    flowy("runs", "env", runs["a"][:8], "--requirements", "-o", "requirements.txt")
    lines = (project / "requirements.txt").read_text().splitlines()
    assert lines[0].startswith("# Installed packages of Flowy run " + runs["a"])
    reqs = [line for line in lines if line and not line.startswith("#")]
    assert len(reqs) == len(env["installed"])
    names = set()
    for line in reqs:
        if line.startswith("-e "):
            continue
        names.add(Requirement(line).name)
    assert "pytest" in names
    import pytest as _pytest

    assert f"pytest=={_pytest.__version__}" in reqs


# -- the HTML report in a real browser ---------------------------------------------


@pytest.mark.slow
def test_html_report_renders_table_and_chart_in_headless_chromium(tracked, tmp_path) -> None:
    browser = _load_helper("headless_browser")
    chromium = browser.chromium_binary()
    project, flowy, runs = tracked
    flowy("experiment", "export", "tune", "-o", "browser.html", "--metric", "accuracy")
    url = (project / "browser.html").as_uri()
    dom = browser.dump_dom(chromium, url, tmp_path)
    assert dom.count('<tr class="best"') == 1 and runs["b"] in dom
    assert dom.count("<td") == 4 * 7 and '<table id="metrics-table">' in dom
    assert '<svg id="chart"' in dom and dom.count('class="point"') == 4
    pixels = browser.screenshot(chromium, url, tmp_path, size=(900, 700))
    assert browser.count_colour(pixels, (9, 105, 218)) > 300  # the series line and its points
    assert browser.count_colour(pixels, (26, 127, 55)) > 40  # the best run's point


def _load_helper(name: str):
    """Import a helper module beside this file (tests are not on sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
