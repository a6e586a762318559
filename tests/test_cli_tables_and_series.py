"""Tables piped or in a narrow terminal, and metric series, through the real ``flowy`` command.

Piped, every table row is one line holding the full id (so ``grep`` and copy
work); in an 80-column terminal no id is broken across lines. ``runs list``
shows key metrics; a ``log_metric(step=...)`` series appears in ``runs show``,
``experiment compare`` and as an SVG chart in the HTML export.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
LONG = "a_rather_long_pipeline_name_that_does_not_fit_in_eighty_columns"
EPOCHS = 7

PIPELINE = f'''
import flowy
from flowy import Pipeline, step


@step
def data(label: str = "x" * 70) -> int:
    return 3


@step
def train(data: int, epochs: int = {EPOCHS}) -> float:
    for i in range(epochs):
        flowy.log_metric("loss", 1.0 / (i + 1), step=i)
    flowy.log_metric("accuracy", 0.5 + data / 10)
    return 1.0


pipeline = Pipeline("{LONG}", [data, train])
'''


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    env.update({"FLOWY_HOME": str(home), "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return env


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    project = tmp_path_factory.mktemp("tables")
    (project / "pipeline.py").write_text(PIPELINE, encoding="utf-8")
    env = _env(project / "home")
    for args in (
        ["init", "--here"],
        ["run", "pipeline.py"],
        ["run", "pipeline.py", "-p", "epochs=4"],
    ):
        subprocess.run([*FLOWY, *args], cwd=project, env=env, capture_output=True, check=False)
    runs = json.loads(flowy(project, env, "runs", "list", "--json"))
    assert len(runs) == 2, runs
    return {"project": project, "env": env, "runs": [r["run_id"] for r in runs]}


def flowy(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*FLOWY, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def plain(done: tuple[int, str]) -> str:
    """A successful terminal run's output with its escape codes removed."""
    code, text = done
    assert code == 0, text
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07", "", text).replace("\r", "")


def test_piped_rows_are_single_lines_with_full_ids(recorded: dict[str, Any]):
    project, env = recorded["project"], recorded["env"]
    lines = flowy(project, env, "runs", "list").splitlines()
    for run_id in recorded["runs"]:
        row = [line for line in lines if run_id in line]
        assert len(row) == 1, lines
        assert LONG in row[0] and "completed" in row[0]
    assert not any(ch in "".join(lines) for ch in "│─┃━┼")
    artifacts = json.loads(flowy(project, env, "artifacts", "list", "--json"))
    lines = flowy(project, env, "artifacts", "list").splitlines()
    for artifact in artifacts:
        row = [line for line in lines if artifact["artifact_id"] in line]
        assert len(row) == 1 and LONG in row[0], lines
    plugins = json.loads(flowy(project, env, "plugins", "--json"))["plugins"]
    lines = flowy(project, env, "plugins").splitlines()
    assert len(lines) == 1 + len(plugins), lines  # a header, then one line per plugin
    for plugin in plugins:
        assert sum(line.startswith(plugin["name"] + " ") for line in lines) == 1, lines


def test_no_id_is_broken_in_an_80_column_terminal(
    recorded: dict[str, Any], in_terminal: Callable[..., tuple[int, str]]
):
    project, env = recorded["project"], recorded["env"]
    env = {k: v for k, v in env.items() if k != "NO_COLOR"}
    out = plain(in_terminal([*FLOWY, "runs", "list"], project, env, columns=80))
    for run_id in recorded["runs"]:
        assert run_id[:12] in out, out
    artifacts = json.loads(flowy(project, env, "artifacts", "list", "--json"))
    out = plain(in_terminal([*FLOWY, "artifacts", "list"], project, env, columns=80))
    for artifact in artifacts:
        assert artifact["artifact_id"][:12] in out, out
    out = plain(in_terminal([*FLOWY, "plugins"], project, env, columns=80))
    assert "flowy-store-sqlite" in out, out


def test_runs_list_shows_key_metrics(recorded: dict[str, Any]):
    project, env = recorded["project"], recorded["env"]
    lines = flowy(project, env, "runs", "list").splitlines()
    header = lines[0].split()
    assert "loss" in header and "accuracy" in header, lines
    newest = next(line for line in lines if recorded["runs"][0] in line)
    assert "0.25" in newest.split() and "0.8" in newest.split()  # last loss of 4 epochs
    chosen = flowy(project, env, "runs", "list", "--metric", "accuracy").splitlines()
    assert chosen[0].split()[-1] == "accuracy" and "loss" not in chosen[0].split()
    listed = json.loads(flowy(project, env, "runs", "list", "--json"))
    assert listed[0]["metrics"]["loss"] == 0.25


def test_runs_show_lists_each_series(recorded: dict[str, Any]):
    project, env = recorded["project"], recorded["env"]
    first = recorded["runs"][1]
    out = flowy(project, env, "runs", "show", first)
    series = out.split("\nSeries\n")[1].splitlines()
    assert series[0].split() == ["step", "metric", "points", "first", "last", "min", "max", "curve"]
    row = series[1]
    assert row.split()[2:7] == [str(EPOCHS), "1", f"{1 / EPOCHS:.4g}", f"{1 / EPOCHS:.4g}", "1"]
    assert re.search(f"[▁▂▃▄▅▆▇█]{{{EPOCHS}}}", row), row
    data = json.loads(flowy(project, env, "runs", "show", first, "--json"))
    assert data["series"] == [
        {"step": "train", "metric": "loss", "points": [[i, 1.0 / (i + 1)] for i in range(EPOCHS)]}
    ]


def test_experiment_compare_shows_series(recorded: dict[str, Any]):
    project, env = recorded["project"], recorded["env"]
    out = flowy(project, env, "experiment", "compare", *recorded["runs"])
    row = next(line for line in out.splitlines() if line.startswith("train.loss"))
    assert "(4)" in row and f"({EPOCHS})" in row, row
    data = json.loads(flowy(project, env, "experiment", "compare", *recorded["runs"], "--json"))
    (series,) = data["series"]
    assert [len(p) for p in series["points"]] == [4, EPOCHS]


def test_html_export_charts_the_series(recorded: dict[str, Any]):
    project, env = recorded["project"], recorded["env"]
    flowy(project, env, "experiment", "export", LONG, "-o", "report.html", "-m", "accuracy")
    text = (project / "report.html").read_text(encoding="utf-8")
    svg = re.search(r'<svg id="series-chart".*?</svg>', text, re.S)
    assert svg is not None
    root = ET.fromstring(svg.group())
    lines = {
        p.get("data-run"): p.get("points", "").split()
        for p in root.iter("{http://www.w3.org/2000/svg}polyline")
    }
    newest, oldest = recorded["runs"]
    assert len(lines[oldest]) == EPOCHS and len(lines[newest]) == 4
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
