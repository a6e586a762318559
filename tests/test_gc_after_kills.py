"""After 50 random SIGKILLs of ``flowy run`` writing 20-50 MB arrays, ``flowy gc`` cleans up.

The acceptance scenario of issue #11 item 5, as real processes: each
``flowy run`` writes several large numpy arrays and is killed with SIGKILL at
a random moment (before, during or after a write, or while recording it).
Every tenth kill, and at the end, ``flowy gc`` runs (bounding the disk the test
needs), and then: no temporary file is left, no artifact file is left that no
row records (sidecars only beside recorded artifacts), and every recorded
artifact still verifies against its checksum. The assertions hold wherever
the kills land; the random delays only spread them over the run.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from blake3 import blake3

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]

PIPELINE = textwrap.dedent(
    """
    import numpy as np
    from flowy import Pipeline, step

    def make(i):
        @step(name=f"array{i}", cache=False)
        def body(seed: int = 0):
            rng = np.random.default_rng(seed * 10 + i)
            megabytes = int(rng.integers(20, 51))
            return rng.random(megabytes * 131_072)  # float64: 8 bytes each
        return body

    pipeline = Pipeline("arrays", [make(i) for i in range(4)])
    """
)

KILLS = 50


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _check(project: Path) -> None:
    root = project / ".flowy" / "artifacts"
    recorded = _rows(
        project / ".flowy" / "metadata.db", "SELECT uri, checksum, size FROM artifacts"
    )
    wanted: set[Path] = set()
    for uri, checksum, size in recorded:
        path = Path(uri)
        data = path.read_bytes()
        assert len(data) == size and "blake3:" + blake3(data).hexdigest() == checksum, uri
        wanted |= {path, path.with_name(f".{path.name}.flowy.json")}
    files = {p for p in root.rglob("*") if p.is_file()}
    temporary = [p for p in files if ".tmp-" in p.name]
    assert not temporary, f"gc left temporary files: {temporary[:3]}"
    assert files == wanted, f"gc left unreferenced files: {sorted(map(str, files - wanted))[:3]}"


@pytest.mark.slow
def test_gc_after_fifty_sigkills_leaves_nothing_dangling(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "arrays.py").write_text(PIPELINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(tmp_path / "home"),
        FLOWY_PROJECT=str(project),
        FLOWY_LOAD_PLUGINS="flowy-executor-local,flowy-store-sqlite,flowy-materializers",
    )

    def gc() -> None:
        done = subprocess.run(
            [*FLOWY, "gc"], cwd=project, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        _check(project)

    rng = random.Random(5)
    for kill in range(1, KILLS + 1):
        proc = subprocess.Popen(
            [*FLOWY, "run", "arrays.py", "-p", f"seed={kill}"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if kill % 10 == 0:
            gc()
    statuses = {s for (s,) in _rows(project / ".flowy" / "metadata.db", "SELECT status FROM runs")}
    assert statuses <= {"crashed", "completed"}, statuses
