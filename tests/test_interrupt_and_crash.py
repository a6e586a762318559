"""Ctrl-C, SIGKILL and resume with real processes, on every executor.

Each test runs a pipeline script in its own Python process (the way a user
runs ``python pipeline.py``), with steps defined in that script's ``__main__``,
then signals that process and checks what the metadata store and the process
table say afterwards: the run is cancelled (SIGINT) or shows as crashed
(SIGKILL), no worker or step process is left running, and a resumed run
re-runs only the steps that had not completed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flowy.run.engine import run_pipeline
from flowy.testing._executor_support import alive, attempts, load_path_module
from flowy.tracking.client import Client

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from flowy import Pipeline, step
    from flowy.run.engine import run_pipeline
    from flowy.testing._contract_steps import mark

    def _slow(marks, name, pause):
        started = time.time()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(marks, f"{name}.{os.getpid()}.pids"), "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(pause)
        child.kill()
        child.wait()
        mark(marks, name, started)

    @step
    def root(marks):
        mark(marks, "root", time.time())
        return 1

    @step
    def slow_a(marks, root, pause=60.0):
        _slow(marks, "slow_a", pause)
        return root + 1

    @step
    def slow_b(marks, root, pause=60.0):
        _slow(marks, "slow_b", pause)
        return root + 2

    @step
    def sink(marks, slow_a, slow_b):
        mark(marks, "sink", time.time())
        return slow_a + slow_b

    pipeline = Pipeline("interrupted", [root, slow_a, slow_b, sink], context={"marks": ""})

    if __name__ == "__main__":
        run_pipeline(
            pipeline,
            stack=sys.argv[1],
            params={"marks": sys.argv[2]},
            executor_options=json.loads(sys.argv[3]),
        )
    """
)

EXECUTORS = [
    pytest.param("local", {"max_workers": 1}, id="local-sequential"),
    pytest.param("local", {"max_workers": 2}, id="local-parallel"),
    pytest.param(
        "dask", {"n_workers": 2, "threads_per_worker": 1}, id="dask", marks=pytest.mark.slow
    ),
]


def _start(project: Path, stack: str, options: dict[str, object]):
    script = project / "interrupted.py"
    script.write_text(SCRIPT)
    marks = project / "marks"
    marks.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(script), stack, str(marks), json.dumps(options)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    return proc, script, marks


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n{proc.stdout.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}:\n{proc.stdout.read().decode()}")
        time.sleep(0.05)


def _step_pids(marks: Path) -> list[int]:
    return [int(p) for f in marks.glob("*.pids") for p in f.read_text().split()]


def _all_dead(pids: list[int], timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def _session_alive(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``: everything the run started."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def _store(project: Path, plugins):
    from flowy.stacks.resolution import resolve_stack

    return resolve_stack("local", plugins, project)


def _plugins_for(stack: str):
    import importlib

    from flowy.kernel.plugins import create_plugin_manager

    names = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ]
    if stack == "dask":
        names.append(("flowy-executor-dask", "flowy_executor_dask.plugin"))
    return create_plugin_manager(
        entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in names]
    )


@pytest.mark.parametrize(("stack", "options"), EXECUTORS)
def test_sigint_cancels_the_run_and_leaves_no_processes(project, stack, options):
    proc, _, marks = _start(project, stack, options)
    expected = 1 if options.get("max_workers") == 1 else 2
    _wait_for(lambda: len(list(marks.glob("*.pids"))) >= expected, 90, "the slow steps", proc)
    pids = _step_pids(marks)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the run did not stop on SIGINT") from None
    assert proc.returncode != 0
    assert not _all_dead(pids), "a step or the process it started survived Ctrl-C"
    deadline = time.monotonic() + 15
    while _session_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _session_alive(proc.pid), "a worker or step process outlived the run"

    resolved = _store(project, _plugins_for(stack))
    try:
        store = resolved.metadata_store
        (run,) = store.list_runs()
        assert run.status == "cancelled"
        statuses = {r.step: r.status for r in store.get_step_runs(run.run_id)}
        assert statuses["root"] == "completed"
        assert statuses["slow_a"] == statuses["slow_b"] == statuses["sink"] == "cancelled"
    finally:
        resolved.close()


@pytest.mark.parametrize(("stack", "options"), EXECUTORS[:2])
def test_sigkill_then_crashed_and_resume_reruns_only_incomplete_steps(project, stack, options):
    proc, script, marks = _start(project, stack, options)
    _wait_for(lambda: any(marks.glob("*.pids")), 90, "a slow step", proc)
    pids = _step_pids(marks)
    proc.kill()
    proc.wait(timeout=10)
    # The processes running steps (workers, or the orchestrator itself) die with it,
    # and so does what the steps started (flowy.run.groupwatch).
    workers, started_by_steps = pids[0::2], pids[1::2]
    assert not _all_dead(workers), "a worker outlived the SIGKILLed orchestrator"
    try:
        assert not _all_dead(started_by_steps), "a step's child outlived the orchestrator"
    finally:
        for pid in started_by_steps:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    plugins = _plugins_for(stack)
    resolved = _store(project, plugins)
    try:
        (run,) = resolved.metadata_store.list_runs()
        assert run.status == "running"  # nobody has looked yet
    finally:
        resolved.close()
    # What `flowy runs` and notebooks read through: opening the store marks it.
    with Client("local", project, plugins=plugins) as client:
        assert client.run(run.run_id).status == "crashed"

    module = load_path_module(project, "interrupted_again", script.read_text())
    resumed = run_pipeline(
        module.pipeline,
        plugins=plugins,
        project=project,
        params={"marks": str(marks), "pause": 0.0},
        executor_options=options,
        resume=run.run_id,
    )
    assert resumed.status == "completed" and resumed["sink"] == 5
    assert {k: v.status for k, v in resumed.steps.items()} == {
        "root": "cached",
        "slow_a": "completed",
        "slow_b": "completed",
        "sink": "completed",
    }
    counts = {k: len(v) for k, v in attempts(str(marks)).items()}
    assert counts == {"root": 1, "slow_a": 1, "slow_b": 1, "sink": 1}
