"""What a real ``flowy run`` leaves behind when it is killed, interrupted or piped.

* ``kill -9`` of ``flowy run`` whose step started ``sleep 300``: the sleep is
  gone soon after, with the step in the orchestrator itself or in a pool
  worker however the pool starts them (a watchdog kills the workers' process
  groups, or what the orchestrator started, once the orchestrator is dead),
  and the other programs of the shell job (``| cat``) are left alone.
* Ctrl-C (SIGINT to the foreground job) while a step prints and sleeps: the
  cancelled step's record keeps what it printed, its attempt and real start
  and finish times, in this process, in a forked timed attempt and in a pool.
* ``flowy run p.py | head -4``: a reader that stops early is not a failure;
  the run completes and is recorded completed with every step.

Every wait is a bounded poll on a state (a file, a process), never a sleep
sized for a fast machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flowy.testing._executor_support import alive
from flowy.tracking.client import Client

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

PIPELINE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from flowy import Pipeline, step

    TIMEOUT = float(os.environ.get("TEST_STEP_TIMEOUT") or 0) or None

    def _note(marks, name, text):
        tmp = os.path.join(marks, f".{name}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(marks, name))  # whole, or not there at all

    @step(cache=False)
    def spawner(marks: str):
        child = subprocess.Popen(["sleep", "300"])
        _note(marks, "child.pid", str(child.pid))
        time.sleep(300)
        return 1

    @step(cache=False, timeout=TIMEOUT)
    def talker(marks: str):
        print("hello from the step", flush=True)
        _note(marks, "talking", str(os.getpid()))
        time.sleep(120)
        return 1

    def _wait_for(path, seconds=60.0):
        deadline = time.monotonic() + seconds
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)

    @step(cache=False)
    def first(marks: str):
        return 1

    @step(cache=False)
    def second(first, marks: str):
        # Runs once `head` has printed its lines and gone, so later output hits a closed pipe.
        _wait_for(os.path.join(marks, "head-done"))
        return first + 1

    def _later(i):
        @step(name=f"later{i}", cache=False)
        def later(second):
            print("a line nobody reads")
            return second + i
        return later

    ctx = {"marks": ""}
    kill_me = Pipeline("kill_me", [spawner], context=ctx)
    talky = Pipeline("talky", [talker], context=ctx)
    piped = Pipeline("piped", [first, second, *[_later(i) for i in range(8)]], context=ctx)
    """
)


@pytest.fixture
def cli(tmp_path: Path):
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(PIPELINE)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(tmp_path / "home"),
        FLOWY_PROJECT=str(project),
        FLOWY_LOAD_PLUGINS=FIRST_PARTY,
        COLUMNS="200",
    )
    return project, marks, env


def _start(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*FLOWY, "run", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended before {path.name}:\n{proc.stdout.read().decode()}"
            )
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"no {path.name} in time:\n{proc.stdout.read().decode()}")
        time.sleep(0.05)


def _dead_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


EXECUTION = [
    pytest.param(["max_workers=1"], id="in-process"),
    *(
        pytest.param(["max_workers=2", f"start_method={method}"], id=f"pool-{method}")
        for method in ("fork", "forkserver", "spawn")
    ),
]


@pytest.mark.parametrize("options", EXECUTION)
def test_kill_9_of_flowy_run_ends_what_its_steps_started(cli, options: list[str]) -> None:
    project, marks, env = cli
    given = [arg for option in options for arg in ("--executor-option", option)]
    proc = _start(project, env, "p.py:kill_me", "--param", f"marks={marks}", *given)
    _wait_for_file(marks / "child.pid", proc)
    sleeper = int((marks / "child.pid").read_text())
    assert alive(sleeper)
    proc.kill()  # SIGKILL to `flowy run` alone, not to its group
    proc.wait(timeout=30)
    try:
        assert _dead_within(sleeper, 60), "`sleep 300` outlived the SIGKILLed `flowy run`"
    finally:
        if alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)


def test_kill_9_spares_the_other_programs_of_the_shell_job(cli, tmp_path: Path) -> None:
    """In-process steps share the job's process group: only what the run started dies."""
    project, marks, env = cli
    flowy = " ".join(f"'{part}'" for part in FLOWY)
    reader_done = tmp_path / "reader-done"
    # `set -m`: the pipeline is a job of its own, led by `flowy run`, as in a terminal.
    script = (
        f"set -m; {flowy} run p.py:kill_me --param marks='{marks}' "
        "--executor-option max_workers=1 "
        f"| {{ cat > /dev/null; touch '{reader_done}'; }}"
    )
    shell = subprocess.Popen(["bash", "-c", script], cwd=project, env=env, start_new_session=True)
    groups = [shell.pid]
    try:
        _wait_for_file(marks / "child.pid", shell)
        sleeper = int((marks / "child.pid").read_text())
        runner = _flowy_pid(marks)
        groups.append(os.getpgid(runner))  # the job's group, led by `flowy run`
        os.kill(runner, signal.SIGKILL)
        assert _dead_within(sleeper, 60), "`sleep 300` outlived the SIGKILLed `flowy run`"
        shell.wait(timeout=60)
        assert reader_done.exists(), "the other program of the shell job was killed too"
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        if (marks / "child.pid").exists() and alive(int((marks / "child.pid").read_text())):
            os.kill(int((marks / "child.pid").read_text()), signal.SIGKILL)


def _flowy_pid(marks: Path) -> int:
    """The `flowy run` process: the parent of the step's `sleep` in sequential mode."""
    sleeper = int((marks / "child.pid").read_text())
    stat = Path(f"/proc/{sleeper}/stat").read_text().rsplit(")", 1)[1].split()
    return int(stat[1])


INTERRUPTED = [
    pytest.param({}, [], id="in-process"),
    pytest.param({"TEST_STEP_TIMEOUT": "600"}, [], id="forked-timed-attempt"),
    pytest.param({}, ["--executor-option", "max_workers=2"], id="pool"),
]


@pytest.mark.parametrize(("extra_env", "options"), INTERRUPTED)
def test_ctrl_c_keeps_the_interrupted_steps_output_attempt_and_times(
    cli, extra_env: dict[str, str], options: list[str]
) -> None:
    project, marks, env = cli
    proc = _start(
        project, {**env, **extra_env}, "p.py:talky", "--param", f"marks={marks}", *options
    )
    _wait_for_file(marks / "talking", proc)
    signalled = time.time()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the run did not stop on SIGINT") from None
    output = proc.stdout.read().decode()
    assert proc.returncode == 130, output
    with Client("local", project) as client:
        (run,) = client.runs()
        (record,) = client.steps(run.run_id)
    assert run.status == "cancelled"
    assert record.status == "cancelled"
    assert "hello from the step" in record.logs
    assert record.attempts >= 1
    assert 0 < record.started_at < signalled <= record.finished_at


def test_a_reader_that_stops_early_does_not_fail_or_lose_the_run(cli) -> None:
    project, marks, env = cli
    flowy = " ".join(f"'{part}'" for part in FLOWY)
    script = (
        f"set -o pipefail; {flowy} run p.py:piped --param marks='{marks}' "
        f"| {{ head -4; touch '{marks / 'head-done'}'; }}"
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.splitlines()) == 4
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    with Client("local", project) as client:
        (run,) = client.runs()
        statuses = {s.step: s.status for s in client.steps(run.run_id)}
    assert run.status == "completed"
    assert statuses == {name: "completed" for name in ["first", "second"]} | {
        f"later{i}": "completed" for i in range(8)
    }
