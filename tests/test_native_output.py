"""Output a step writes to descriptors 1 and 2 itself is in its logs, never on the terminal.

Native code (a C extension such as TensorFlow, ``ctypes``, a child process
inheriting the descriptors) bypasses ``sys.stdout``: issue 12, item 10. Each
step below writes through Python, ``os.write``, libc's ``write`` and a child
shell; every executor mode must record all of it, in order, in that step's
logs (:mod:`flowy.run.native_output`), and ``flowy run`` must show none of it,
piped or on a terminal. The descriptors are put back after every attempt,
however it ends, and none is leaked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.run import load_pipeline, run_pipeline
from flowy.run.native_output import AttemptLog, Capture
from flowy.stacks.resolution import resolve_stack

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]

Flowy = Callable[..., subprocess.CompletedProcess[str]]

NOISY = '''
import ctypes, os, subprocess, sys
from flowy import Pipeline, step


def noisy(name):
    """Write seven lines, through Python and natively, in a known order."""
    print(f"{name}: python out")
    os.write(1, f"{name}: fd1\\n".encode())
    print(f"{name}: python err", file=sys.stderr)
    os.write(2, f"{name}: fd2\\n".encode())
    line = f"{name}: libc\\n".encode()
    ctypes.CDLL(None).write(2, line, len(line))
    subprocess.run(["sh", "-c", f"echo '{name}: child' >&2"], check=True)
    print(f"{name}: python last")


@step
def a() -> int:
    noisy("a")
    return 1


@step(timeout=60)
def timed() -> int:
    noisy("timed")
    return 2


@step
def b() -> int:
    noisy("b")
    return 3


chain = Pipeline("chain", [a, timed])
parallel = Pipeline("parallel", [a, b])
'''

#: What ``noisy(name)`` writes, in order ("{}" is the step's name).
LINES = ["python out", "fd1", "python err", "fd2", "libc", "child", "python last"]


def expected(name: str) -> list[str]:
    return [f"{name}: {what}" for what in LINES]


def lines_of(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{name}: ")]


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return os.path.samestat(a, b)


@pytest.fixture
def noisy_file(project: Path) -> Path:
    path = project / "noisy.py"
    path.write_text(NOISY)
    return path


def step_logs(project: Path, plugins: Any, run_id: str) -> dict[str, str]:
    stack = resolve_stack(None, plugins, project)
    try:
        return {s.step: s.logs for s in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


@pytest.mark.parametrize(
    ("pipeline", "workers"),
    [("chain", 1), ("parallel", 2)],
    ids=["in-process-and-forked", "pool"],
)
def test_every_executor_mode_records_native_output_in_order(
    project: Path,
    plugins: Any,
    noisy_file: Path,
    capfd: pytest.CaptureFixture[str],
    pipeline: str,
    workers: int,
) -> None:
    """In this process, in a forked attempt (a timeout) and in pool workers; under pytest's
    own descriptor capture (``capfd``), which must be where 1 and 2 point afterwards."""
    before = os.fstat(1), os.fstat(2)
    result = run_pipeline(
        load_pipeline(f"{noisy_file}:{pipeline}"),
        plugins=plugins,
        executor_options={"max_workers": workers},
    )
    assert result.status == "completed", result.steps
    assert same_file(os.fstat(1), before[0]) and same_file(os.fstat(2), before[1])
    logs = step_logs(project, plugins, result.run_id)
    for name in logs:
        assert lines_of(logs[name], name) == expected(name), logs[name]
    seen = capfd.readouterr()
    assert ": fd1" not in seen.out + seen.err and ": child" not in seen.out + seen.err


def test_the_descriptors_come_back_after_a_failing_an_exiting_and_an_interrupted_step(
    project: Path, plugins: Any
) -> None:
    before = os.fstat(1), os.fstat(2)

    @step
    def fails() -> None:
        os.write(2, b"native before failing\n")
        raise ValueError("no")

    result = run_pipeline(Pipeline("fails", [fails]), plugins=plugins)
    assert result.steps["fails"].status == "failed"
    assert "native before failing" in step_logs(project, plugins, result.run_id)["fails"]
    assert same_file(os.fstat(1), before[0]) and same_file(os.fstat(2), before[1])

    @step
    def exits() -> None:
        os.write(1, b"native before exiting\n")
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        run_pipeline(Pipeline("exits", [exits]), plugins=plugins)
    assert same_file(os.fstat(1), before[0]) and same_file(os.fstat(2), before[1])

    @step
    def interrupted() -> None:
        os.write(1, b"native before Ctrl-C\n")
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process
        raise AssertionError("not reached")

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(Pipeline("interrupted", [interrupted]), plugins=plugins)
    assert same_file(os.fstat(1), before[0]) and same_file(os.fstat(2), before[1])
    assert "native before Ctrl-C" in _latest_steps(project, plugins)[0].logs


def _latest_steps(project: Path, plugins: Any) -> list[Any]:
    stack = resolve_stack(None, plugins, project)
    try:
        store = stack.metadata_store
        latest = store.list_runs(limit=1)[0]
        return list(store.get_step_runs(latest.run_id))
    finally:
        stack.close()


def test_many_attempts_leak_no_descriptor() -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def attempt(n: int) -> str:
        log = AttemptLog()
        with Capture(log):
            os.write(1, f"attempt {n}\n".encode())
            if n % 3 == 0:  # a nested attempt that fails: its output is in both logs
                inner = AttemptLog()
                with pytest.raises(ZeroDivisionError), Capture(inner):
                    os.write(2, b"inner\n")
                    _ = 1 / 0
                assert inner.getvalue() == "inner\n"
        return log.getvalue()

    def wanted(n: int) -> str:
        return f"attempt {n}\n" + ("inner\n" if n % 3 == 0 else "")

    assert attempt(1) == "attempt 1\n"  # the process's capture file is made once
    before = open_fds()
    assert [attempt(n) for n in range(2, 200)] == [wanted(n) for n in range(2, 200)]
    assert open_fds() == before


def test_a_child_forked_while_the_parent_captures_captures_on_its_own() -> None:
    """A timed attempt forks while another thread may be inside a capture (even holding its
    lock): the child's own capture neither waits forever nor writes into the parent's."""
    import threading

    from flowy.run import native_output

    outer = AttemptLog()
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with native_output._state.lock:
            held.set()
            release.wait(30)

    with Capture(outer):
        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        held.wait(30)
        pid = os.fork()
        if pid == 0:  # the child: capture, and say by the exit code whether it worked
            inner = AttemptLog()
            with Capture(inner):
                os.write(1, b"child native\n")
            os._exit(0 if inner.getvalue() == "child native\n" else 1)
        release.set()
        holder.join()
        for _ in range(300):  # a bounded poll: the child deadlocked if it never exits
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            threading.Event().wait(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child's capture waited forever on the parent's lock")
        os.write(1, b"parent native\n")
    assert os.waitstatus_to_exitcode(status) == 0
    assert outer.getvalue() == "parent native\n"


FORK_WHILE_WRITING = """
import os, signal, sys, threading, time
from flowy.run.native_output import AttemptLog, Capture

# A thread blocks inside a write to sys.stdout (a pipe nobody reads yet) holding
# the stream's buffer lock, as the parent's progress output may when a pool
# thread forks a worker.
writing = threading.Thread(target=lambda: sys.stdout.write("x" * (1 << 22)), daemon=True)
writing.start()
while not writing.is_alive():
    pass
time.sleep(0.5)  # (only lets the write reach its blocking system call)
result = sys.argv[1]
pid = os.fork()
if pid == 0:  # the worker: an attempt's capture flushes sys.stdout first
    log = AttemptLog()
    with Capture(log):
        print("child python", flush=True)
    with open(result, "w") as f:
        f.write(log.getvalue())
    os._exit(0)
for _ in range(600):  # a bounded poll: the child hung if it never exits
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    threading.Event().wait(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with open(result, "w") as f:
        f.write("HUNG")
os.close(1)  # lets the blocked writer fail; the test reads the pipe only now
os._exit(0)
"""


def test_a_child_forked_while_a_thread_writes_to_stdout_does_not_hang(tmp_path: Path) -> None:
    """The intermittent ``flowy run`` hang: a worker forked while another thread was inside
    a write to ``sys.stdout`` inherited that stream's lock held, and its first flush waited
    forever (:mod:`flowy.run.fork_streams`)."""
    result = tmp_path / "child.txt"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a buffered stdout
    proc = subprocess.Popen(
        [sys.executable, "-c", FORK_WHILE_WRITING, str(result)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    while not result.exists() and proc.poll() is None:
        threading.Event().wait(0.1)
    proc.stdout.read()  # type: ignore[union-attr]
    _, stderr = proc.communicate(timeout=120)
    assert result.read_text() == "child python\n", stderr.decode()


def test_megabytes_of_native_output_are_read_in_chunks_and_kept_whole() -> None:
    log = AttemptLog()
    block = b"x" * 1023 + b"\n"
    with Capture(log):
        for _ in range(3 * 1024):  # 3 MiB, more than one chunk
            os.write(2, block)
        print("python after", file=log)
    text = log.getvalue()
    assert len(text) == 3 * 1024 * 1024 + len("python after\n")
    assert text.endswith("x\npython after\n")


# -- the real command ---------------------------------------------------------------


@pytest.fixture
def run_cli(
    project: Path,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
) -> tuple[Flowy, dict[str, str]]:
    env = flowy_env(tmp_path / "home", COLUMNS="200")
    return flowy_runner(project, env), env


def run_id_of(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("Run "))


@pytest.mark.parametrize(
    ("pipeline", "workers"),
    [("chain", "1"), ("parallel", "2")],
    ids=["in-process-and-forked", "pool"],
)
def test_flowy_run_shows_none_of_it_and_flowy_logs_has_all_of_it(
    project: Path,
    noisy_file: Path,
    run_cli: tuple[Flowy, dict[str, str]],
    in_terminal: Callable[..., tuple[int, str]],
    pipeline: str,
    workers: str,
) -> None:
    flowy, env = run_cli
    target, option = f"noisy.py:{pipeline}", f"max_workers={workers}"
    piped = flowy("run", target, "--executor-option", option, "--no-cache")
    for what in LINES:
        assert f": {what}" not in piped.stdout + piped.stderr, piped
    run_id = run_id_of(piped.stdout)
    for name in ("a", "timed") if pipeline == "chain" else ("a", "b"):
        shown = flowy("logs", run_id, "--step", name).stdout
        assert lines_of(shown, name) == expected(name), shown

    code, screen = in_terminal(
        [*FLOWY, "run", target, "--executor-option", option, "--no-cache"], project, env
    )
    assert code == 0, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    for what in LINES:
        assert f": {what}" not in plain, screen
    assert "completed" in plain


def test_a_logging_handler_the_pipeline_file_sets_up_is_not_logged_twice(
    project: Path, run_cli: tuple[Flowy, dict[str, str]]
) -> None:
    """``logging.basicConfig()`` at the top of a pipeline file binds a handler to stderr
    before any step runs: it keeps printing to the terminal, as before, and the step's
    record is in its logs once (through Flowy's own handler), not also via descriptor 2."""
    flowy, _ = run_cli
    (project / "logged.py").write_text(
        textwrap.dedent(
            """
            import logging
            from flowy import Pipeline, step

            logging.basicConfig(level=logging.INFO, format="handler: %(message)s")


            @step
            def s() -> int:
                logging.getLogger("mine").info("hello from the step")
                return 1


            pipeline = Pipeline("logged", [s])
            """
        )
    )
    done = flowy("run", "logged.py")
    assert "handler: hello from the step" in done.stderr
    shown = flowy("logs", run_id_of(done.stdout), "--step", "s").stdout
    assert shown.count("hello from the step") == 1, shown


def test_flowy_run_into_head_still_finishes(project: Path, noisy_file: Path, run_cli: Any) -> None:
    """``| head -1``: the run's own duplicate of stdout, and descriptor 1, go to the null device."""
    flowy, env = run_cli
    done = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" 2>err.txt | head -1; echo "rc=$?"', "--",
         *FLOWY, "run", "noisy.py:chain", "--no-cache"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "rc=0", done.stdout
    assert (project / "err.txt").read_text() == ""
    runs = json.loads(flowy("runs", "list", "--json").stdout)
    assert runs[0]["status"] == "completed"


# -- TensorFlow ----------------------------------------------------------------------

TF_PIPELINE = textwrap.dedent(
    """
    import os
    from flowy import Pipeline, step


    @step
    def train() -> float:
        import tensorflow as tf

        value = float(tf.reduce_sum(tf.constant([1.0, 2.0]) * 2.0))
        os.write(2, b"tf-marker: native line after tensorflow\\n")
        return value


    pipeline = Pipeline("tf", [train])
    """
)

#: Lines TensorFlow's C++ runtime writes to descriptor 2 (what the issue saw on screen).
TF_NATIVE = re.compile(r"oneDNN|This TensorFlow binary|cpu_feature_guard|cuda|I0000|W0000")


@pytest.mark.slow
def test_tensorflow_native_lines_go_to_the_step_logs_not_the_screen(
    project: Path,
    run_cli: tuple[Flowy, dict[str, str]],
    in_terminal: Callable[..., tuple[int, str]],
) -> None:
    assert importlib.util.find_spec("tensorflow"), (
        "tensorflow is missing: nox -s tests installs it (flowy-materializers[test])"
    )
    flowy, env = run_cli
    env = {**env, "TF_CPP_MIN_LOG_LEVEL": "0"}  # TensorFlow says what it says by default
    (project / "tf_pipeline.py").write_text(TF_PIPELINE)
    code, screen = in_terminal([*FLOWY, "run", "tf_pipeline.py"], project, env)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert code == 0, screen
    assert "tf-marker" not in plain and not TF_NATIVE.search(plain), screen
    run_id = json.loads(flowy("runs", "list", "--json", **env).stdout)[0]["run_id"]
    logs = flowy("logs", run_id, "--step", "train").stdout
    assert "tf-marker: native line after tensorflow" in logs, logs
