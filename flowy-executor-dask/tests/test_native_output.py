"""Native output of a step run on a Dask worker is in its logs (issue 12, item 10).

A worker process runs the attempt with :func:`flowy.run.execute_attempt` (or in
a forked child for a step with a timeout), which captures descriptors 1 and 2:
what the step writes there through ``os.write``, libc or a child process comes
back in the step's logs, in order with what it prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy.run import load_pipeline
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack

NOISY = """
import ctypes, os, subprocess
from flowy import Pipeline, step


def noisy(name):
    print(f"{name}: python")
    os.write(1, f"{name}: fd1\\n".encode())
    line = f"{name}: libc\\n".encode()
    ctypes.CDLL(None).write(2, line, len(line))
    subprocess.run(["sh", "-c", f"echo '{name}: child' >&2"], check=True)
    print(f"{name}: python last")


@step
def plain() -> int:
    noisy("plain")
    return 1


@step(timeout=60)
def timed() -> int:
    noisy("timed")
    return 2


pipeline = Pipeline("noisy", [plain, timed])
"""


@pytest.mark.slow
def test_native_output_on_a_dask_worker_is_in_the_step_logs(
    flowy_project: Path, dask_plugins: Any, cluster: Any
) -> None:
    project = flowy_project
    (project / "noisy.py").write_text(NOISY)
    result = run_pipeline(
        load_pipeline(str(project / "noisy.py")),
        stack="dask",
        plugins=dask_plugins,
        project=project,
        executor_options={"address": cluster.scheduler_address},
    )
    assert result.status == "completed", result.steps
    stack = resolve_stack("dask", dask_plugins, project)
    try:
        logs = {s.step: s.logs for s in stack.metadata_store.get_step_runs(result.run_id)}
    finally:
        stack.close()
    for name in ("plain", "timed"):
        shown = [line for line in logs[name].splitlines() if line.startswith(f"{name}: ")]
        assert shown == [f"{name}: {w}" for w in ("python", "fd1", "libc", "child", "python last")]
