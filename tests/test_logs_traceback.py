"""A failed step's traceback is where the run's summary sends the user (issue #12 item 4).

The summary of a failed run says "see its output: flowy logs RUN --step a";
that command, and `flowy --debug run`, show the traceback the step record
keeps, with the line in the user's file.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Flowy = Callable[..., subprocess.CompletedProcess[str]]

FAILING = """
from flowy import Pipeline, step


@step
def a() -> int:
    print("loading the data")
    return helper()


def helper() -> int:
    raise ValueError("the column 'price' is missing")


pipeline = Pipeline("failing", [a])
"""


@pytest.fixture
def make_runner(
    flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Callable[[Path, Path], Flowy]:
    """``make_runner(project, home)``: the real `flowy` command in ``project``, with only the
    first-party plugins."""
    return lambda project, home: flowy_runner(project, flowy_env(home, COLUMNS="200"))


def run_id_of(stdout: str) -> str:
    """The run id of the summary line ``Run ID failed in ...``."""
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("Run "))


def test_flowy_logs_shows_the_traceback_of_a_failed_step(
    tmp_path: Path, make_runner: Callable[[Path, Path], Flowy]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(FAILING)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("run", "pipeline.py", code=1)
    run_id = run_id_of(done.stdout)
    assert f"see its output: flowy logs {run_id} --step a" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr  # only with --debug

    shown = flowy("logs", run_id, "--step", "a").stdout
    assert "loading the data" in shown
    assert "Traceback (most recent call last):" in shown
    assert f'File "{project / "pipeline.py"}", line 12, in helper' in shown
    assert shown.rstrip().endswith("ValueError: the column 'price' is missing")
    assert shown.index("loading the data") < shown.index("Traceback")
    assert "Traceback (most recent call last):" in flowy("logs", run_id).stdout

    as_json = json.loads(flowy("logs", run_id, "--json").stdout)
    assert "ValueError: the column 'price' is missing" in as_json["a"]


def test_debug_run_prints_the_traceback_of_a_failed_step(
    tmp_path: Path, make_runner: Callable[[Path, Path], Flowy]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(FAILING)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("--debug", "run", "pipeline.py", code=1)
    assert "Traceback of step a (--debug):" in done.stderr
    assert f'File "{project / "pipeline.py"}", line 12, in helper' in done.stderr
    assert "ValueError: the column 'price' is missing" in done.stderr
    env = flowy("run", "pipeline.py", code=1, FLOWY_DEBUG="1")
    assert "Traceback of step a (--debug):" in env.stderr


LOGGING = """
import logging

from flowy import Pipeline, step

log = logging.getLogger(__name__)


@step
def a() -> int:
    log.warning("half the rows dropped")
    return 1


pipeline = Pipeline("logging", [a])
"""


def test_log_lines_name_the_pipeline_file_not_an_internal_module(
    tmp_path: Path, make_runner: Callable[[Path, Path], Flowy]
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(LOGGING)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("run", "pipeline.py")
    shown = flowy("logs", run_id_of(done.stdout), "--step", "a").stdout
    assert "WARNING pipeline.py: half the rows dropped" in shown
    assert "flowy_user_" not in shown
