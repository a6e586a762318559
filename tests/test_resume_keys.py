"""``flowy run --resume`` re-uses a step only when its key (code, inputs, parameters) is unchanged.

Each test crashes a real ``flowy run`` (its last step ``os._exit``s the
orchestrating process, as a SIGKILL or an out-of-memory kill would end it),
changes something, resumes with the real command, and checks what the new
run recorded and returns: a step whose code, parameters or inputs changed
runs again, and every output is the one the resumed run's code and values
compute. Steps with and without a cache are both covered: an uncached step's
record carries the same key, so resume can check it.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from flowy.tracking.client import Client

Flowy = Callable[..., subprocess.CompletedProcess[str]]

PIPELINE = textwrap.dedent(
    """
    import os
    from flowy import Pipeline, step

    CACHE = os.environ["TEST_STEP_CACHE"] == "1"

    @step(cache=CACHE)
    def data(seed: int = 0):
        return [seed, seed + 1, seed + 2]

    @step(cache=CACHE)
    def total(data):
        return sum(data)

    @step(cache=CACHE)
    def report(total, crash_flag: str = ""):
        if crash_flag and os.path.exists(crash_flag):
            os._exit(9)  # the orchestrator dies here: the run is left crashed
        return total * 10

    pipeline = Pipeline("resumable", [data, total, report])
    """
)


@pytest.fixture(params=["cached", "uncached"])
def cli(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
):
    """Run the real ``flowy`` in a fresh project; steps with a cache or with cache=False."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(PIPELINE)
    env = flowy_env(
        tmp_path / "home",
        FLOWY_PROJECT=str(project),
        COLUMNS="200",
        TEST_STEP_CACHE="1" if request.param == "cached" else "0",
    )
    run = flowy_runner(project, env)

    def flowy(*args: str) -> subprocess.CompletedProcess[str]:
        return run(*args, code=None)

    return project, flowy


def _crash(project: Path, flowy, *params: str) -> str:
    flag = project / "crash-now"
    flag.write_text("1")
    done = flowy("run", "p.py", "--param", f"crash_flag={flag}", *params)
    assert done.returncode == 9, done.stdout + done.stderr
    flag.unlink()
    with Client("local", project) as client:
        (run,) = client.runs()
        assert run.status == "crashed"
        statuses = {s.step: s.status for s in client.steps(run.run_id)}
    assert statuses == {"data": "completed", "total": "completed"}
    return run.run_id


def _resume(project: Path, flowy, crashed: str, *params: str):
    done = flowy(
        "run",
        "p.py",
        "--resume",
        crashed,
        "--param",
        f"crash_flag={project / 'crash-now'}",
        *params,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with Client("local", project) as client:
        run = next(r for r in client.runs() if r.run_id != crashed)
        statuses = {s.step: s.status for s in client.steps(run.run_id)}
        values = {name: client.load(ref) for name, ref in client.outputs(run.run_id).items()}
    return done.stdout, run, statuses, values


def test_resume_with_a_changed_parameter_reruns_the_step_and_its_dependants(cli) -> None:
    project, flowy = cli
    crashed = _crash(project, flowy, "--param", "seed=0")
    out, run, statuses, values = _resume(project, flowy, crashed, "--param", "seed=1")
    assert run.params["seed"] == 1
    assert statuses == {"data": "completed", "total": "completed", "report": "completed"}
    # What is recorded is what this run computed with seed=1, not the crashed run's data.
    assert values == {"data": [1, 2, 3], "total": 6, "report": 60}
    assert f"resuming run {crashed}" in out


def test_resume_reruns_a_step_whose_upstream_output_changed(cli) -> None:
    """``total`` takes no parameter and its code is the same: only its input changed."""
    project, flowy = cli
    crashed = _crash(project, flowy, "--param", "seed=0")
    _, _, statuses, values = _resume(project, flowy, crashed, "--param", "seed=5")
    assert statuses["total"] == "completed"
    assert values["total"] == 5 + 6 + 7


def test_resume_with_an_edited_step_reruns_it_and_reuses_the_rest(cli) -> None:
    project, flowy = cli
    crashed = _crash(project, flowy)
    with Client("local", project) as client:
        old_data = client.step(crashed, "data").outputs["data"]
    script = project / "p.py"
    script.write_text(script.read_text().replace("return sum(data)", "return sum(data) + 100"))
    out, run, statuses, values = _resume(project, flowy, crashed)
    assert statuses == {"data": "cached", "total": "completed", "report": "completed"}
    assert values == {"data": [0, 1, 2], "total": 103, "report": 1030}
    with Client("local", project) as client:
        reused = client.step(run.run_id, "data")
        edited = client.step(run.run_id, "total")
        crashed_total = client.step(crashed, "total")
    assert reused.outputs["data"] == old_data  # the same artifact, not a copy
    assert edited.code_hash != crashed_total.code_hash
    # Progress names the run the step came from, not the new run.
    lines = [line for line in out.splitlines() if line.startswith("data:")]
    assert lines == [f"data: cached  re-used from run {crashed[:12]}"], out
    assert run.run_id[:12] not in lines[0]


def test_resume_with_nothing_changed_reuses_every_completed_step(cli) -> None:
    project, flowy = cli
    crashed = _crash(project, flowy, "--param", "seed=2")
    out, _, statuses, values = _resume(project, flowy, crashed, "--param", "seed=2")
    assert statuses == {"data": "cached", "total": "cached", "report": "completed"}
    assert values == {"data": [2, 3, 4], "total": 9, "report": 90}
    for name in ("data", "total"):
        assert f"{name}: cached  re-used from run {crashed[:12]}" in out
