"""A failed step's traceback is where the run's summary sends the user (issue #12 item 4).

The summary of a failed run says "see its output: flowy logs RUN --step a";
that command, and `flowy --debug run`, show the traceback the step record
keeps, with the line in the user's file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
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


def make_runner(project: Path, home: Path) -> Flowy:
    """The real `flowy` command in ``project``, with only the first-party plugins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), COLUMNS="200", FLOWY_LOAD_PLUGINS=FIRST_PARTY)

    def flowy(
        *args: str, code: int = 0, env_update: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args], cwd=project, env={**env, **(env_update or {})},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return flowy


def run_id_of(stdout: str) -> str:
    """The run id of the summary line ``Run ID failed in ...``."""
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("Run "))


def test_flowy_logs_shows_the_traceback_of_a_failed_step(tmp_path: Path) -> None:
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


def test_debug_run_prints_the_traceback_of_a_failed_step(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(FAILING)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("--debug", "run", "pipeline.py", code=1)
    assert "Traceback of step a (--debug):" in done.stderr
    assert f'File "{project / "pipeline.py"}", line 12, in helper' in done.stderr
    assert "ValueError: the column 'price' is missing" in done.stderr
    env = flowy("run", "pipeline.py", code=1, env_update={"FLOWY_DEBUG": "1"})
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


def test_log_lines_name_the_pipeline_file_not_an_internal_module(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(LOGGING)
    flowy = make_runner(project, tmp_path / "home")
    done = flowy("run", "pipeline.py")
    shown = flowy("logs", run_id_of(done.stdout), "--step", "a").stdout
    assert "WARNING pipeline.py: half the rows dropped" in shown
    assert "flowy_user_" not in shown
