"""The project is found from the pipeline file; a command that only reads creates nothing.

Issue #12 item 5: `flowy run myproj/pipeline.py` from the parent folder made a
new `.flowy/` there and ran everything again, and `flowy runs list` made
`.flowy/metadata.db` in any folder. Through the real `flowy` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = """
from flowy import Pipeline, step


@step
def double(n: int) -> int:
    return 2 * n


pipeline = Pipeline("doubling", [double], context={"n": 21})
"""


def runner(home: Path) -> Flowy:
    """``flowy(cwd, *args, code=0)``: the real command, first-party plugins only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), COLUMNS="200", FLOWY_LOAD_PLUGINS=FIRST_PARTY)

    def flowy(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return flowy


@pytest.fixture
def flowy(tmp_path: Path) -> Flowy:
    return runner(tmp_path / "home")


def test_run_from_the_parent_folder_uses_the_files_project(tmp_path: Path, flowy: Flowy) -> None:
    parent = tmp_path / "work"
    project = parent / "myproj"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    assert "double: done" in flowy(project, "run", "pipeline.py").stdout

    again = flowy(parent, "run", "myproj/pipeline.py")
    assert "double: cached" in again.stdout, again.stdout
    assert not (parent / ".flowy").exists()
    listed = flowy(project, "runs", "list", "--json").stdout
    assert listed.count('"run_id"') == 2
    explained = flowy(parent, "cache", "explain", "myproj/pipeline.py", "--json").stdout
    assert '"hit"' in explained and not (parent / ".flowy").exists()
    # From inside the project, a file elsewhere with no project of its own runs here.
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    (elsewhere / "other.py").write_text(PIPELINE.replace("doubling", "other"))
    flowy(project, "run", str(elsewhere / "other.py"))
    assert not (elsewhere / ".flowy").exists()
    assert flowy(project, "runs", "list", "--json").stdout.count('"run_id"') == 3


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "list"),
        ("runs", "show", "abc"),
        ("logs", "abc"),
        ("artifacts", "list"),
        ("cache", "stats"),
        ("cache", "explain", "pipeline.py"),
    ],
    ids=" ".join,
)
def test_a_read_in_a_folder_with_no_project_creates_nothing(
    tmp_path: Path, flowy: Flowy, args: tuple[str, ...]
) -> None:
    folder = tmp_path / "not-a-project"
    folder.mkdir()
    (folder / "pipeline.py").write_text(PIPELINE)
    done = flowy(folder, *args, code=1)
    text = " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert f"No Flowy project here: neither {folder} nor a folder above it has a .flowy/" in text
    assert "`flowy init`" in text and "`flowy run pipeline.py`" in text
    assert sorted(p.name for p in folder.iterdir()) == ["pipeline.py"]


def test_the_user_folder_is_not_a_project(tmp_path: Path) -> None:
    """``~/.flowy`` (FLOWY_HOME) holds user settings: folders under home are not one project."""
    home = tmp_path / "user" / ".flowy"
    home.mkdir(parents=True)
    work = tmp_path / "user" / "code"
    work.mkdir()
    flowy = runner(home)
    refused = " ".join(flowy(work, "runs", "list", code=1).stderr.split())
    assert f"No Flowy project here: neither {work}" in refused
    assert not {"metadata.db", "artifacts"} & {p.name for p in home.iterdir()}
