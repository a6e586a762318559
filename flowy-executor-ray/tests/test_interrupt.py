"""Ctrl-C on a run whose steps run on Ray: the run is cancelled and no step goes on.

The pipeline script runs in its own Python process (as ``python pipeline.py``
would), connected to the session's cluster; SIGINT reaches it while two steps
run on Ray workers, each having started a child process. The run must end
cancelled in the metadata store, with those steps recorded cancelled (keeping
what they printed before), and neither the workers that ran them nor their
children may go on running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import alive

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from flowy import Pipeline, step
    from flowy.run.engine import run_pipeline
    from flowy.testing._contract_steps import mark

    def _slow(marks, name):
        print(f"{name} is under way", flush=True)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(marks, f"{name}.{os.getpid()}.pids"), "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(120)

    @step
    def root(marks):
        mark(marks, "root", time.time())
        return 1

    @step
    def slow_a(marks, root):
        _slow(marks, "slow_a")
        return root + 1

    @step
    def slow_b(marks, root):
        _slow(marks, "slow_b")
        return root + 2

    @step
    def sink(marks, slow_a, slow_b):
        return slow_a + slow_b

    pipeline = Pipeline("interrupted", [root, slow_a, slow_b, sink], context={"marks": ""})

    if __name__ == "__main__":
        run_pipeline(
            pipeline, stack="ray", params={"marks": sys.argv[1]},
            executor_options=json.loads(sys.argv[2]),
        )
    """
)


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n{proc.stdout.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}:\n{proc.stdout.read().decode()}")
        time.sleep(0.05)


def test_sigint_cancels_the_run_and_stops_its_ray_tasks(
    project: Path, ray_cluster: str, ray_plugins: Any
) -> None:
    script = project / "interrupted.py"
    script.write_text(SCRIPT)
    marks = project / "marks"
    marks.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(marks), json.dumps({"address": ray_cluster})],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    _wait_for(lambda: len(list(marks.glob("*.pids"))) >= 2, 120, "the slow steps", proc)
    time.sleep(1.0)  # what the steps printed reaches the run (twice a second)
    pids = [int(p) for f in marks.glob("*.pids") for p in f.read_text().split()]
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the run did not stop on SIGINT") from None
    assert proc.returncode != 0
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "a Ray worker or a step's child survived Ctrl-C"

    resolved = resolve_stack("ray", ray_plugins, project)
    try:
        store = resolved.metadata_store
        (run,) = store.list_runs()
        assert run.status == "cancelled"
        recorded = {r.step: r for r in store.get_step_runs(run.run_id)}
        assert recorded["root"].status == "completed"
        for name in ("slow_a", "slow_b", "sink"):
            assert recorded[name].status == "cancelled", name
        for name in ("slow_a", "slow_b"):
            assert f"{name} is under way" in (recorded[name].logs or ""), name
    finally:
        resolved.close()
