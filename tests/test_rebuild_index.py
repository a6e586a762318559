"""A lost metadata database is refused, not silently recreated; the index is rebuilt.

Real processes on a real project: the database is deleted or truncated to zero
bytes while the artifacts of its runs remain. ``flowy runs list`` and ``flowy
run`` must refuse with a message naming both the database and the artifact
folder; ``flowy doctor --rebuild-index`` must then restore the runs, steps and
artifacts from the sidecars so that ``runs list`` / ``artifacts list`` show
them and the restored artifacts load and verify.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = textwrap.dedent(
    """
    from pathlib import Path
    import flowy
    from flowy import Pipeline, step

    @step
    def data(n: int = 3):
        return list(range(n))

    @step
    def total(data):
        Path("report.txt").write_text(f"total {sum(data)}")
        flowy.log_artifact("report.txt")
        return sum(data)

    pipeline = Pipeline("lost", [data, total])
    """
)


@pytest.fixture
def flowy(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Flowy:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project), COLUMNS="200")
    return flowy_runner(project, env, timeout=300)


def refused(done: subprocess.CompletedProcess[str], project: Path) -> None:
    """Refused as a user error naming the database, the artifact folder and the fixes."""
    assert done.returncode == 1, done.stdout + done.stderr
    text = " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert str(project / ".flowy" / "metadata.db") in text, text
    assert str(project / ".flowy" / "artifacts") in text, text
    assert "flowy doctor --rebuild-index" in text and "FLOWY_ALLOW_NEW_INDEX=1" in text, text


@pytest.mark.parametrize("loss", ["deleted", "zero-length"])
def test_lost_database_is_refused_then_rebuilt_from_sidecars(
    flowy: Flowy, tmp_path: Path, loss: str
) -> None:
    project = tmp_path / "project"
    db = project / ".flowy" / "metadata.db"
    flowy("run", "pipe.py")
    flowy("run", "pipe.py", "-p", "n=5")
    before_runs = json.loads(flowy("runs", "list", "--json").stdout)
    before_artifacts = json.loads(flowy("artifacts", "list", "--json").stdout)
    assert len(before_runs) == 2 and len(before_artifacts) == 6

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if loss == "zero-length":
        db.write_bytes(b"")

    refused(flowy("runs", "list", code=None), project)
    refused(flowy("run", "pipe.py", code=None), project)
    refused(flowy("runs", "list", code=None), project)  # still refused: nothing was recorded
    doctor = flowy("doctor", code=1)
    assert "records no runs" in " ".join(doctor.stdout.split())

    out = flowy("doctor", "--rebuild-index").stdout
    assert "Restored 2 run(s), 4 step run(s) and 6 artifact(s)" in out, out

    runs = json.loads(flowy("runs", "list", "--json").stdout)
    assert {r["run_id"] for r in runs} == {r["run_id"] for r in before_runs}
    assert {r["pipeline"] for r in runs} == {"lost"}
    assert {r["status"] for r in runs} == {"recovered"}
    artifacts = json.loads(flowy("artifacts", "list", "--json").stdout)
    key = lambda a: (a["uri"], a["checksum"], a["size"], a["name"])  # noqa: E731
    assert sorted(map(key, artifacts)) == sorted(map(key, before_artifacts))
    shown = json.loads(flowy("runs", "show", runs[0]["run_id"], "--json").stdout)
    assert {s["step"] for s in shown["steps"]} == {"data", "total"}
    # Lineage within a run is restored: `total` consumed `data`'s output.
    conn = sqlite3.connect(db)
    try:
        edges = conn.execute(
            "SELECT count(*) FROM lineage WHERE direction = 'consumed' AND step = 'total'"
        ).fetchone()
    finally:
        conn.close()
    assert edges == (2,)
    # The restored index is a normal one: runs go on, and gc finds nothing to delete.
    flowy("run", "pipe.py")
    assert "Nothing to delete" in flowy("gc").stdout
    assert flowy("doctor").returncode == 0


def test_allow_new_index_starts_an_empty_history(flowy: Flowy, tmp_path: Path) -> None:
    project = tmp_path / "project"
    flowy("run", "pipe.py")
    (project / ".flowy" / "metadata.db").unlink()
    flowy("run", "pipe.py", FLOWY_ALLOW_NEW_INDEX="1")
    assert len(json.loads(flowy("runs", "list", "--json").stdout)) == 1  # checks pass again


def test_a_fresh_project_is_not_refused(flowy: Flowy, tmp_path: Path) -> None:
    assert "No runs yet" in flowy("runs", "list").stdout
    flowy("run", "pipe.py")
