"""The everyday commands on the default stack never import SQLAlchemy or Alembic.

Importing SQLAlchemy takes ~125 ms, more than the rest of a 100-step run's
start-up; the ``sqlite`` store runs these commands on the stdlib driver
(flowy_store_sqlite.sqlite). Each command runs in a real subprocess with
``-X importtime`` so the whole import graph is seen, including a brand-new
database being created and an existing one being opened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
HEAVY = ("sqlalchemy", "alembic")

PIPELINE = """
from flowy import Pipeline, log_metric, step

@step
def numbers() -> list[int]:
    return [1, 2, 3]

@step
def total(numbers: list[int]) -> int:
    log_metric("total", sum(numbers))
    return sum(numbers)

pipeline = Pipeline("imports", steps=[numbers, total])
"""


def _flowy(project: Path, *args: str) -> tuple[str, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(project / "home"), FLOWY_LOAD_PLUGINS=FIRST_PARTY)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flowy_cli.main", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, imported


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".flowy").mkdir()
    (tmp_path / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    return tmp_path


def test_run_rerun_and_listings_import_no_sqlalchemy(project: Path) -> None:
    out, imported = _flowy(project, "run", "pipe.py")  # creates the database
    assert "completed" in out
    assert _heavy(imported) == []
    assert (project / ".flowy" / "metadata.db").is_file()
    out, imported = _flowy(project, "run", "pipe.py")  # opens it; every step cached
    assert "2 cached" in out
    assert _heavy(imported) == []
    out, imported = _flowy(project, "runs", "list", "--json")
    assert out.count('"status": "completed"') == 2
    assert _heavy(imported) == []
    out, imported = _flowy(project, "experiment", "list", "--json")
    assert '"runs": 2' in out
    assert _heavy(imported) == []


def test_lineage_still_works_by_loading_sqlalchemy_on_demand(project: Path) -> None:
    """A command beyond the stdlib path opens the SQLAlchemy side on the same database."""
    _flowy(project, "run", "pipe.py")
    out, _ = _flowy(project, "runs", "list", "--json")
    run_id = out.split('"run_id": "')[1].split('"')[0]
    out, imported = _flowy(project, "runs", "show", run_id)
    assert "total" in out
    out, imported = _flowy(project, "artifacts", "list", "--run", run_id)
    assert "numbers" in out and "total" in out
    assert "sqlalchemy" in imported
