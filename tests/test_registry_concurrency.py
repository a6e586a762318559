"""Eight real processes logging metrics and registering versions of one model at once.

Nothing may be lost: every metric row is there, the version numbers are
exactly 1..N (unique, gapless), and no process sees "database is locked".
Each process runs pipelines (metrics through runs, a version per run via
``@step(register_model=...)``) and registers more versions directly, all
against one real SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from flowy.kernel.plugins import FlowyPlugins
from flowy.tracking.client import Client

PROCESSES = 8
RUNS = 3
METRICS = 200
DIRECT = 5

WORKER = textwrap.dedent(
    """
    import importlib, sys, time
    from pathlib import Path
    from flowy import Pipeline, step, log_metric, Model
    from flowy.tracking.client import Client
    from flowy.run.engine import run_pipeline
    from flowy.kernel.plugins import create_plugin_manager

    project, index, start = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    plugins = create_plugin_manager(entrypoints=False, plugins=[
        (d, importlib.import_module(m)) for d, m in (
            ("flowy-executor-local", "flowy_executor_local.plugin"),
            ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        )
    ])

    @step(cache=False, register_model="shared")
    def train(seed: int = 0):
        for i in range({metrics}):
            log_metric("loss", i / 10, step=i)
        return Model({{"seed": seed, "worker": {{"index": index}}}})

    pipeline = Pipeline("concurrent", [train])
    while time.time() < start:
        time.sleep(0.005)
    for r in range({runs}):
        result = run_pipeline(pipeline, params={{"seed": index * 100 + r}}, plugins=plugins,
                              project=project)
        assert result.ok, result.steps
        with Client(plugins=plugins, project=project) as client:
            if r == 0:
                for _ in range({direct}):
                    client.models.register("shared", result.artifacts["train"].artifact_id)
    print("ok", index)
    """
).format(metrics=METRICS, runs=RUNS, direct=DIRECT)


def test_eight_writers_lose_nothing(project: Path, plugins: FlowyPlugins, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    start = time.time() + 3.0  # every process imported and waiting: then all at once
    env = {**os.environ, "FLOWY_PROJECT": str(project)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(project), str(i), str(start)],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert "database is locked" not in out + err
        assert proc.returncode == 0, err[-3000:]
    with Client(plugins=plugins, project=project) as client:
        runs = client.runs(pipeline="concurrent", limit=1000)
        assert len(runs) == PROCESSES * RUNS
        assert all(r.status == "completed" for r in runs)
        for run in runs:
            values = [m.step for _, m in client.metrics(run.run_id)]
            assert sorted(values) == list(range(METRICS)), run.run_id
        versions = client.models.versions("shared")
        numbers = [v.version for v in versions]
        assert numbers == list(range(1, PROCESSES * (RUNS + DIRECT) + 1))
        run_ids = {r.run_id for r in runs}
        assert {v.run_id for v in versions} == run_ids
        history = client.models.history("shared")
        assert sorted(c.version for c in history if c.action == "register") == numbers
