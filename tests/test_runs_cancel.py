"""``flowy runs cancel``: a real ``flowy run`` in another process, asked through the store.

The run holds in a step until the test has seen that step *running* in the store
(the change feed's ``running`` row, ``running_steps``), then the test cancels it
with the real command. Nothing waits on a duration: every wait is on a condition,
with a generous ceiling.
"""

from __future__ import annotations

import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowy.tracking.client import Client

PIPELINE = textwrap.dedent(
    """
    import time

    from flowy import Pipeline, step


    @step(cache=False)
    def prepare() -> int:
        return 1


    @step(cache=False)
    def hold(prepare: int) -> int:
        print("holding", flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until cancelled (or the test gave up)
            time.sleep(0.02)
        return prepare + 1


    @step(cache=False)
    def after(hold: int) -> int:
        return hold + 1


    held = Pipeline("held", [prepare, hold, after])
    """
)


def _wait_for(condition: Callable[[], str | None], what: str, ceiling: float = 90.0) -> str:
    deadline = time.monotonic() + ceiling
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.mark.parametrize(
    "executor_options",
    [pytest.param([], id="sequential"), pytest.param(["max_workers=2"], id="parallel")],
)
def test_cancel_a_running_run_from_another_process(
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    flowy_command: list[str],
    executor_options: list[str],
) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "held_pipeline.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    flowy = flowy_runner(project, env)
    options = [a for o in executor_options for a in ("--executor-option", o)]
    run = subprocess.Popen(
        [*flowy_command, "run", "held_pipeline.py", *options],
        cwd=project, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with Client(project=project) as client:
            store = client.store

            def holding() -> str | None:
                for r in store.list_runs(limit=5):
                    if r.status == "running" and [s for s, _ in store.running_steps(r.run_id)] == [
                        "hold"
                    ]:
                        return r.run_id
                return None

            run_id = _wait_for(holding, "the held step to be recorded as running")
            seen = {c.status for c in store.changes_since(0) if c.step == "hold"}
            assert seen == {"running"}
            done = flowy("runs", "cancel", run_id[:8], "--wait", "--timeout", "90")
            assert f"Asked run {run_id} to cancel." in done.stdout
            assert f"Run {run_id} is cancelled." in done.stdout
        out, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, out  # as Ctrl-C ends it
    assert f"Run {run_id} was cancelled." in out
    with Client(project=project) as client:
        steps = {r.step: r.status for r in client.store.get_step_runs(run_id)}
        assert steps == {"prepare": "completed", "hold": "cancelled", "after": "cancelled"}
        assert client.store.running_steps(run_id) == []
        feed = [(c.step, c.status) for c in client.store.changes_since(0) if c.run_id == run_id]
    assert feed[0] == (None, "running") and feed[-1] == (None, "cancelled")
    assert (None, "cancelling") in feed
    assert feed.index(("hold", "running")) < feed.index(("hold", "cancelled"))
    # A finished run cannot be cancelled; an unknown one is named.
    again = flowy("runs", "cancel", run_id, code=1)
    assert "cancelled, not running" in again.stderr + again.stdout
    unknown = flowy("runs", "cancel", "ffffffff", code=1)
    assert "ffffffff" in unknown.stderr + unknown.stdout
