"""``flowy gc`` and ``flowy runs delete`` through the real command, with real kills.

What is checked, always on the real SQLite file and the real artifact folder:
``gc --dry-run`` deletes nothing and reports sizes; ``gc`` removes the debris
and unreferenced artifacts a killed run leaves and nothing a recorded row
needs; ``runs delete`` refuses artifacts another run re-used or a model
version holds, unless ``--force``; retention keeps the newest runs and never
a registered model's; a kill during ``runs delete`` never leaves a row without
its file, and after ``gc`` every artifact has its row and its file or neither;
``gc`` and ``runs delete`` running beside live runs lose nothing they record.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from blake3 import blake3

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
Flowy = Callable[..., subprocess.CompletedProcess[str]]


def flowy_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `flowy` process of this test's project (first-party plugins only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(tmp_path / "home"),
        FLOWY_PROJECT=str(tmp_path / "project"),
        FLOWY_LOAD_PLUGINS=FIRST_PARTY,
        COLUMNS="200",
        **extra,
    )
    return env


def make_runner(tmp_path: Path) -> Flowy:
    """Run `flowy ARGS` in the project; assert its exit code (``code=None``: any)."""

    def flowy(*args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*FLOWY, *args],
            cwd=tmp_path / "project",
            env=flowy_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if code is not None:
            assert done.returncode == code, (
                f"flowy {' '.join(args)} exited {done.returncode}, expected {code}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    return flowy


def user_error(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """A user error: non-zero, one 'Error:' paragraph, no traceback; returns the text."""
    assert done.returncode != 0
    text = " ".join(done.stderr.split())
    assert "Error:" in text and "Traceback" not in done.stderr, done.stderr
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{done.stderr}"
    return text


#: A step logs a file (written to the store at once, recorded only when the step
#: ends), touches a marker, then waits: killing the run then leaves a complete,
#: unreferenced artifact, as a kill between writing and recording does.
HANGING = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    import flowy
    from flowy import Pipeline, step

    @step(cache=False)
    def first():
        return {"payload": "x" * 5000}

    @step(cache=False)
    def hang(first):
        report = Path(os.environ["MARKER"]).with_suffix(".csv")
        report.write_text("a,b\\n" * 2000)
        flowy.log_artifact(report)
        Path(os.environ["MARKER"]).write_text("ready")
        time.sleep(300)
        return 1

    pipeline = Pipeline("hanging", [first, hang])
    """
)

CACHED = textwrap.dedent(
    """
    from flowy import Pipeline, step

    @step
    def data(n: int = 3):
        return list(range(n))

    @step
    def total(data):
        return sum(data)

    pipeline = Pipeline("cached", [data, total])
    """
)

MODEL = textwrap.dedent(
    """
    from flowy import Pipeline, step

    @step(cache=False, register_model="clf")
    def train(seed: int = 0):
        return {"weights": [seed] * 100}

    pipeline = Pipeline("training", [train])
    """
)


@pytest.fixture
def flowy(tmp_path: Path) -> Flowy:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    for name, source in (("hanging.py", HANGING), ("cached.py", CACHED), ("model.py", MODEL)):
        (project / name).write_text(source)
    return make_runner(tmp_path)


def project_of(tmp_path: Path) -> Path:
    return tmp_path / "project"


def rows(project: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(project / ".flowy" / "metadata.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def store_files(project: Path) -> set[Path]:
    return {p for p in (project / ".flowy" / "artifacts").rglob("*") if p.is_file()}


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.flowy.json")


def assert_consistent(project: Path, *, after_gc: bool) -> None:
    """Every row's file exists and verifies; after gc, every file is a row's (or its sidecar)."""
    recorded = rows(project, "SELECT uri, checksum, size FROM artifacts")
    for uri, checksum, size in recorded:
        data = Path(uri).read_bytes()
        assert len(data) == size and "blake3:" + blake3(data).hexdigest() == checksum, uri
        assert sidecar(Path(uri)).is_file(), f"{uri} has no sidecar"
    if after_gc:
        wanted = {Path(u) for u, _, _ in recorded} | {sidecar(Path(u)) for u, _, _ in recorded}
        extra = store_files(project) - wanted
        assert not extra, f"gc left files no row needs: {sorted(map(str, extra))[:5]}"


def killed_hanging_run(flowy: Flowy, tmp_path: Path, name: str) -> str:
    """Start the hanging pipeline, SIGKILL it once its step waits; return the run id."""
    project = project_of(tmp_path)
    marker = tmp_path / f"{name}.marker"
    env = flowy_env(tmp_path, MARKER=str(marker))
    before = (
        {r for (r,) in rows(project, "SELECT run_id FROM runs")}
        if (project / ".flowy" / "metadata.db").exists()
        else set()
    )
    proc = subprocess.Popen(
        [*FLOWY, "run", "hanging.py"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the hanging run ended before its step waited"
            assert time.monotonic() < deadline, "the hanging step never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (run_id,) = {r for (r,) in rows(project, "SELECT run_id FROM runs")} - before
    return str(run_id)


def plant_debris(project: Path, run_id: str) -> Path:
    """A half-written temporary file, named as the local store names them, in the run's folder."""
    folder = project / ".flowy" / "artifacts" / run_id / "hang"
    folder.mkdir(parents=True, exist_ok=True)
    debris = folder / ".hang.json.tmp-0123456789ab"
    debris.write_bytes(b"\0" * 3000)
    return debris


def test_gc_dry_run_reports_sizes_and_deletes_nothing_then_gc_deletes(
    flowy: Flowy, tmp_path: Path
) -> None:
    project = project_of(tmp_path)
    run_id = killed_hanging_run(flowy, tmp_path, "a")
    debris = plant_debris(project, run_id)
    logged = next(p for p in store_files(project) if p.name.endswith(".csv"))
    assert logged.stat().st_size == 8000
    before = {p: p.stat().st_size for p in store_files(project)}

    dry = json.loads(flowy("gc", "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True
    kinds = dry["by_kind"]
    assert kinds["temporary"] == {"count": 1, "bytes": 3000}
    assert kinds["unreferenced"]["count"] == 1
    assert kinds["unreferenced"]["bytes"] == 8000 + sidecar(logged).stat().st_size
    assert {p: p.stat().st_size for p in store_files(project)} == before  # nothing deleted
    text = flowy("gc", "--dry-run").stdout
    assert "Would delete" in text and " kB" in text, text  # sizes in people's units

    flowy("gc")
    assert not debris.exists() and not logged.exists() and not sidecar(logged).exists()
    assert_consistent(project, after_gc=True)
    assert rows(project, "SELECT status FROM runs") == [("crashed",)]
    assert "Nothing to delete" in flowy("gc").stdout


def test_gc_spares_what_a_running_run_wrote(flowy: Flowy, tmp_path: Path) -> None:
    """A live run's unrecorded artifact and temporary file are not garbage."""
    project = project_of(tmp_path)
    marker = tmp_path / "live.marker"
    env = flowy_env(tmp_path, MARKER=str(marker))
    proc = subprocess.Popen(
        [*FLOWY, "run", "hanging.py"], cwd=project, env=env, stdout=subprocess.DEVNULL
    )
    try:
        while not marker.exists():
            assert proc.poll() is None
            time.sleep(0.05)
        (run_id,) = rows(project, "SELECT run_id FROM runs")[0]
        debris = plant_debris(project, run_id)
        before = store_files(project)
        report = json.loads(flowy("gc", "--json").stdout)
        assert report["files"] == []
        assert store_files(project) == before and debris.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    flowy("gc")
    assert_consistent(project, after_gc=True)


def test_runs_delete_refuses_a_run_whose_output_another_run_reused(
    flowy: Flowy, tmp_path: Path
) -> None:
    project = project_of(tmp_path)
    flowy("run", "cached.py")
    flowy("run", "cached.py")  # every step a cache hit on the first run's artifacts
    first, second = (r for (r,) in rows(project, "SELECT run_id FROM runs ORDER BY started_at"))
    files = store_files(project)

    done = flowy("runs", "delete", first[:8], "--yes", code=1)
    user_error(done, "Not deleted", "re-used (cache hit) by run", second[:12], "--force")
    assert store_files(project) == files
    assert len(rows(project, "SELECT * FROM artifacts")) == 2

    out = flowy("runs", "delete", first, "--yes", "--force").stdout
    assert "Deleted 1 run(s) and 2 artifact(s)" in out
    assert rows(project, "SELECT run_id FROM runs") == [(second,)]
    assert rows(project, "SELECT count(*) FROM artifacts") == [(0,)]
    assert store_files(project) == set()
    assert rows(project, "SELECT count(*) FROM cache_entries") == [(0,)]
    # Deleting the re-using run alone is always fine: it owns nothing.
    flowy("runs", "delete", second, "--yes")
    assert rows(project, "SELECT count(*) FROM runs") == [(0,)]


def test_runs_delete_refuses_a_registered_model_and_running_runs(
    flowy: Flowy, tmp_path: Path
) -> None:
    project = project_of(tmp_path)
    flowy("run", "model.py")
    (run_id,) = rows(project, "SELECT run_id FROM runs")[0]
    done = flowy("runs", "delete", run_id, "--yes", code=1)
    user_error(done, "registered as model clf v1")
    assert rows(project, "SELECT count(*) FROM model_versions") == [(1,)]
    flowy("runs", "delete", run_id, "--yes", "--force")
    assert rows(project, "SELECT count(*) FROM model_versions") == [(0,)]
    assert store_files(project) == set()
    user_error(flowy("runs", "delete", "nosuchrun", "--yes", code=1), "nosuchrun")


def test_retention_keeps_newest_runs_and_registered_models(flowy: Flowy, tmp_path: Path) -> None:
    project = project_of(tmp_path)
    for seed in range(3):
        flowy("run", "model.py", "-p", f"seed={seed}")
    for n in range(4):
        flowy("run", "cached.py", "-p", f"n={n}")
    cached_runs = [
        r
        for (r,) in rows(
            project, "SELECT run_id FROM runs WHERE pipeline = 'cached' ORDER BY started_at"
        )
    ]
    flowy("config", "set", "keep_last_runs", "2")
    dry = json.loads(flowy("gc", "--dry-run", "--json").stdout)
    assert dry["by_kind"]["expired runs"]["count"] == 2
    kept = {r["run_id"]: r["kept_because"] for r in dry["expired_runs"]}
    assert all(
        reason and "model clf" in reason for run, reason in kept.items() if run not in cached_runs
    )
    flowy("gc")
    left = {r for (r,) in rows(project, "SELECT run_id FROM runs WHERE pipeline = 'cached'")}
    assert left == set(cached_runs[-2:])
    # Every model version's run is kept, whatever the rule says.
    assert rows(project, "SELECT count(*) FROM runs WHERE pipeline = 'training'") == [(3,)]
    assert_consistent(project, after_gc=True)
    # A second rule only keeps more: with --keep-days 1 beside keep_last_runs, these
    # seconds-old runs are all kept.
    flowy("gc", "--keep-days", "1")
    assert rows(project, "SELECT count(*) FROM runs") == [(5,)]


WIDE = textwrap.dedent(
    """
    from flowy import Pipeline, step

    def make(i):
        @step(name=f"s{i}", cache=False)
        def body(seed: int = 0):
            return {"i": i, "seed": seed}
        return body

    pipeline = Pipeline("wide", [make(i) for i in range(150)])
    """
)


def start_delete(tmp_path: Path, run_ids: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*FLOWY, "runs", "delete", "--yes", *run_ids],
        cwd=project_of(tmp_path),
        env=flowy_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_during_delete_leaves_row_and_file_or_neither(flowy: Flowy, tmp_path: Path) -> None:
    project = project_of(tmp_path)
    (project / "wide.py").write_text(WIDE)
    for seed in range(3):
        flowy("run", "wide.py", "-p", f"seed={seed}")
    runs = [r for (r,) in rows(project, "SELECT run_id FROM runs ORDER BY started_at")]
    files = store_files(project)
    assert len(files) == 3 * 150 * 2  # each artifact and its sidecar

    # 1. Killed before its transaction commits (the test holds the write lock): nothing changed.
    lock = sqlite3.connect(project / ".flowy" / "metadata.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    proc = start_delete(tmp_path, runs[:1])
    time.sleep(1.0)  # wherever it is by now, it cannot have committed: we hold the lock
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock.execute("ROLLBACK")
    lock.close()
    assert len(rows(project, "SELECT * FROM runs")) == 3 and store_files(project) == files
    assert_consistent(project, after_gc=False)

    # 2. Killed as soon as its commit is visible, while it removes 300 files: no row names
    #    a missing file; the files it did not reach are unreferenced and gc removes them.
    proc = start_delete(tmp_path, runs[:1])
    while rows(project, "SELECT count(*) FROM runs") == [(3,)] and proc.poll() is None:
        pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(rows(project, "SELECT * FROM runs")) == 2
    assert_consistent(project, after_gc=False)
    flowy("gc")
    assert_consistent(project, after_gc=True)

    # 3. Killed at random moments, then let through.
    rng = random.Random(11)
    for _ in range(8):
        proc = start_delete(tmp_path, [r for (r,) in rows(project, "SELECT run_id FROM runs")])
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_consistent(project, after_gc=False)  # whenever it died
    if remaining := [r for (r,) in rows(project, "SELECT run_id FROM runs")]:
        flowy("runs", "delete", "--yes", *remaining)
    flowy("gc")
    assert_consistent(project, after_gc=True)
    assert store_files(project) == set()


def test_gc_and_delete_beside_live_runs_lose_nothing(flowy: Flowy, tmp_path: Path) -> None:
    project = project_of(tmp_path)
    (project / "live.py").write_text(
        textwrap.dedent(
            """
            import time
            from flowy import Pipeline, step

            def make(i):
                @step(name=f"s{i}", cache=False)
                def body(seed: int = 0):
                    time.sleep(0.05)
                    return {"i": i, "payload": "y" * 50_000}
                return body

            pipeline = Pipeline("live", [make(i) for i in range(30)])
            """
        )
    )
    for n in range(4):
        flowy("run", "cached.py", "-p", f"n={n}")
    old = [r for (r,) in rows(project, "SELECT run_id FROM runs")]
    env = flowy_env(tmp_path)
    live = [
        subprocess.Popen(
            [*FLOWY, "run", "live.py", "-p", f"seed={i}"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    collections = 0
    while any(p.poll() is None for p in live) or collections < 3:
        flowy("gc")
        if old:
            flowy("runs", "delete", "--yes", old.pop())
        collections += 1
    for proc in live:
        assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
    statuses = rows(
        project, "SELECT status, count(*) FROM runs WHERE pipeline = 'live' GROUP BY status"
    )
    assert statuses == [("completed", 3)]
    assert rows(
        project,
        "SELECT count(*) FROM artifacts a JOIN runs r USING (run_id) WHERE r.pipeline = 'live'",
    ) == [(90,)]
    flowy("gc")
    assert_consistent(project, after_gc=True)


def test_runs_delete_waits_for_a_running_run_of_the_pipeline(flowy: Flowy, tmp_path: Path) -> None:
    """A running run of the same pipeline may be about to re-use the outputs: refused."""
    project = project_of(tmp_path)
    crashed = killed_hanging_run(flowy, tmp_path, "first")
    marker = tmp_path / "second.marker"
    proc = subprocess.Popen(
        [*FLOWY, "run", "hanging.py"],
        cwd=project,
        env=flowy_env(tmp_path, MARKER=str(marker)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not marker.exists():
            assert proc.poll() is None
            time.sleep(0.05)
        done = flowy("runs", "delete", crashed, "--yes", code=1)
        user_error(done, "of pipeline 'hanging' is running", "--force")
        assert (crashed,) in rows(project, "SELECT run_id FROM runs")
        flowy("runs", "delete", crashed, "--yes", "--force")
        assert (crashed,) not in rows(project, "SELECT run_id FROM runs")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
