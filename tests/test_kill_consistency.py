"""SIGKILL at any moment never leaves metadata pointing at a missing or partial artifact."""

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

from blake3 import blake3

PIPELINE = textwrap.dedent(
    """
    from flowy import Pipeline, step

    def make(i):
        @step(name=f"s{i}", cache=False)
        def body(seed: int = 0):
            return {"i": i, "payload": "x" * (20_000 + i)}
        return body

    pipeline = Pipeline("killme", [make(i) for i in range(400)])
    """
)


def test_sigkill_mid_run_leaves_only_complete_records(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(PIPELINE)
    env = {
        **os.environ,
        "FLOWY_PROJECT": str(project),
        "FLOWY_HOME": str(tmp_path / "home"),
        "FLOWY_LOAD_PLUGINS": "flowy-executor-local,flowy-store-sqlite,flowy-materializers",
    }
    code = (
        "import sys; from flowy.run.loader import load_pipeline; load_pipeline(sys.argv[1]).run()"
    )
    rng = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(project / "pipe.py")], cwd=project, env=env
        )
        time.sleep(rng.uniform(0.8, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    db = sqlite3.connect(project / ".flowy" / "metadata.db")
    rows = db.execute("SELECT uri, checksum, size FROM artifacts").fetchall()
    assert rows, "the runs were killed before recording anything; lengthen the delays"
    for uri, checksum, size in rows:
        data = Path(uri).read_bytes()
        assert len(data) == size and "blake3:" + blake3(data).hexdigest() == checksum, uri
    steps = db.execute("SELECT status, finished_at FROM step_runs").fetchall()
    assert all(status != "running" and finished for status, finished in steps)
    debris = [p for p in (project / ".flowy" / "artifacts").rglob(".*tmp*")]
    # a killed write may leave its temporary file, but never under the final name
    assert all(p.name.startswith(".") for p in debris)
