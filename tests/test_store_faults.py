"""A damaged metadata store is named, with what to do; it is never "a bug in Flowy".

Each fault is made for real, then met by real ``flowy`` processes: a JSON cell
corrupted with a sqlite3 UPDATE, a database file of garbage or cut short, a
disk (a tmpfs this test mounts) that fills up between writing a step's
artifacts and committing its record.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BUG = "bug in Flowy"

PIPELINE = """
from flowy import Pipeline, step


@step
def make() -> list:
    return [1, 2, 3]


@step
def use(make: list) -> int:
    return sum(make)


pipeline = Pipeline("faults", [make, use])
"""

SQL_STACK = """
[executor]
type = "local"
[metadata_store]
type = "sql"
url = "sqlite:///{project}/.flowy/sql.db"
[artifact_store]
type = "local"
path = "{project}/.flowy/artifacts"
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def runner(
    flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Callable[..., Flowy]:
    """``runner(project, home, stack=None)``: the real `flowy` command in ``project`` with
    the first-party plugins; ``run``, ``runs`` and ``gc`` get ``--stack STACK``."""

    def make(project: Path, home: Path, stack: str | None = None) -> Flowy:
        run = flowy_runner(project, flowy_env(home, COLUMNS="200"))

        def flowy(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            on_stack = stack and args[0] in ("run", "runs", "gc")
            return run(*args, *(["--stack", stack] if on_stack else []), code=code)

        return flowy

    return make


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".flowy" / "stacks").mkdir(parents=True)
    (root / ".flowy" / "stacks" / "sqlmeta.toml").write_text(SQL_STACK)
    (root / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    return root


def _steps(flowy: Flowy) -> dict[str, str]:
    run = json.loads(flowy("runs", "list", "--json").stdout)[0]
    shown = json.loads(flowy("runs", "show", run["run_id"], "--json").stdout)
    return {s["step"]: s["status"] for s in shown["steps"]}


def _sql(db: Path, statement: str) -> int:
    with sqlite3.connect(db) as conn:
        changed = conn.execute(statement).rowcount
    conn.close()
    return changed


# -- one malformed JSON cell -----------------------------------------------------


@pytest.mark.parametrize(
    "corrupt",
    [
        "UPDATE cache_entries SET components = '{not json' WHERE step = 'make'",
        "UPDATE cache_entries SET outputs = '[\"make\"' WHERE step = 'make'",
        "UPDATE artifacts SET metadata = '{\"python_type\": ' WHERE step = 'make'",
    ],
    ids=["entry-components", "entry-outputs", "artifact-metadata"],
)
@pytest.mark.parametrize("stack", ["local", "sqlmeta"], ids=["sqlite-store", "sqlalchemy-store"])
def test_a_malformed_cache_row_is_a_miss_with_a_warning(
    project: Path, tmp_path: Path, stack: str, corrupt: str, runner: Callable[..., Flowy]
) -> None:
    flowy = runner(project, tmp_path / "home", stack)
    flowy("run", "pipe.py")
    db = project / ".flowy" / ("metadata.db" if stack == "local" else "sql.db")
    assert _sql(db, corrupt) == 1

    second = flowy("run", "pipe.py")  # exits 0: the pipeline is not broken
    assert "Warning" in second.stderr and "Ignoring the malformed" in second.stderr, second.stderr
    assert "The step runs instead of using the cache" in second.stderr
    # make ran instead of being served from the damaged entry (use, given the same
    # value again, is a hit of its own intact entry).
    assert _steps(flowy) == {"make": "completed", "use": "cached"}

    third = flowy("run", "pipe.py")  # the new entry serves hits again
    assert "malformed" not in third.stderr
    assert _steps(flowy)["make"] == "cached"


def test_a_malformed_run_row_names_table_row_and_repair(
    project: Path, tmp_path: Path, runner: Callable[..., Flowy]
) -> None:
    flowy = runner(project, tmp_path / "home")
    flowy("run", "pipe.py")
    run_id = json.loads(flowy("runs", "list", "--json").stdout)[0]["run_id"]
    db = project / ".flowy" / "metadata.db"
    assert _sql(db, "UPDATE step_runs SET outputs = '{oops' WHERE step = 'use'") == 1

    shown = flowy("runs", "show", run_id, code=1)
    assert BUG not in shown.stderr
    message = " ".join(shown.stderr.split())
    assert "column 'outputs' of table 'step_runs'" in message
    assert f"step 'use' of run {run_id}" in message
    assert "UPDATE step_runs SET outputs = '{}' WHERE id =" in message

    assert _sql(db, f"UPDATE runs SET params = '[1, 2]' WHERE run_id = '{run_id}'") == 1
    listed = flowy("runs", "list", code=1)
    message = " ".join(listed.stderr.split())
    assert BUG not in message
    assert f"column 'params' of table 'runs' (run_id '{run_id}'): a JSON list, not an object" in (
        message
    )
    assert f"UPDATE runs SET params = '{{}}' WHERE run_id = '{run_id}'" in message


# -- a damaged database file -----------------------------------------------------


def _garbage(db: Path) -> None:
    db.write_bytes(b"these bytes are no SQLite database " * 300)


def _cut_short(db: Path) -> None:
    with sqlite3.connect(db) as conn:  # fold the WAL into the file, so the file is all of it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert db.stat().st_size > 40_000
    with open(db, "r+b") as file:
        file.truncate(8192)  # the header and first page survive; the tables' pages do not


@pytest.mark.parametrize("damage", [_garbage, _cut_short], ids=["garbage", "truncated"])
def test_a_damaged_database_file_is_named_with_what_to_do(
    project: Path, tmp_path: Path, damage: Callable[[Path], None], runner: Callable[..., Flowy]
) -> None:
    flowy = runner(project, tmp_path / "home")
    flowy("run", "pipe.py")
    db = project / ".flowy" / "metadata.db"
    damage(db)
    for args in (("runs", "list"), ("run", "pipe.py")):
        done = flowy(*args, code=1)
        message = " ".join(done.stderr.split())
        assert BUG not in message and "Traceback" not in message
        assert f"The metadata database {db} is damaged or is not a SQLite database" in message
        assert "Restore it from a backup" in message and ".recover" in message


# -- a full disk -----------------------------------------------------------------

FILLING = """
import os
from pathlib import Path

import flowy
from flowy import Pipeline, step

PAGE = 4096


@step
def fill() -> str:
    plot = Path("plot.bin")
    plot.write_bytes(b"p" * 300_000)
    flowy.log_artifact(plot)  # in the artifact store now
    plot.unlink()
    value = "x" * 1_000_000
    # Fill the disk, then give back what the output and its sidecar take, plus two pages:
    # the output is written, and the step's record then meets a full disk at its commit.
    with open("filler", "wb") as f:
        try:
            while True:
                f.write(b"\\0" * PAGE)
                f.flush()
        except OSError:
            pass
    need = (len(value) + 2) // PAGE + 1 + 1 + 2
    os.truncate("filler", os.path.getsize("filler") - need * PAGE)
    return value


@step
def after(fill: str) -> int:
    return len(fill)


pipeline = Pipeline("diskfull", [fill, after])
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs, mounted for the test (needs root, as in CI's container)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root needed): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("stack", ["local", "sqlmeta"], ids=["sqlite-store", "sqlalchemy-store"])
def test_a_full_disk_at_the_commit_records_the_step_as_failed(
    small_disk: Path, tmp_path: Path, stack: str, runner: Callable[..., Flowy]
) -> None:
    project = small_disk / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / ".flowy" / "stacks" / "sqlmeta.toml").write_text(SQL_STACK)
    (project / "pipe.py").write_text(FILLING)
    flowy = runner(project, tmp_path / "home", stack)

    done = flowy("run", "pipe.py", code=1)
    out = " ".join((done.stdout + done.stderr).split())
    assert BUG not in out
    db = project / ".flowy" / ("metadata.db" if stack == "local" else "sql.db")
    assert f"Could not write the metadata database {db}: the disk is full" in out

    (project / "filler").unlink()  # room again, to read what was recorded
    run = json.loads(flowy("runs", "list", "--json").stdout)[0]
    assert run["status"] == "failed"
    shown = json.loads(flowy("runs", "show", run["run_id"], "--json").stdout)
    fill, after = shown["steps"]
    assert (fill["step"], fill["status"], after["status"]) == ("fill", "failed", "skipped")
    assert fill["error_type"] == "DatabaseStorageError"
    assert "[Errno 28]" in fill["error"] and "the disk is full" in fill["error"]
    assert fill["outputs"] == {}
    # The files the lost commit would have recorded are gone (a sidecar left is gc's).
    left = [p for p in (project / ".flowy" / "artifacts").rglob("*") if p.is_file()]
    assert [p.name for p in left if not p.name.endswith(".flowy.json")] == []
    flowy("gc")
    assert [p for p in (project / ".flowy" / "artifacts").rglob("*") if p.is_file()] == []
