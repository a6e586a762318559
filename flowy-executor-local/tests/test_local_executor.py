"""The local executor beyond the contract: modes, worker replacement, resources, start methods."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.testing._executor_support import (
    alive,
    attempts,
    load_path_module,
    met_partner,
    overlap,
)
from flowy_executor_local.executor import LocalExecutor, default_start_method

STEPS = textwrap.dedent(
    """
    import os, time
    from flowy import step
    from flowy.testing._contract_steps import mark, meet

    @step(timeout=0.5)
    def stuck(marks):
        time.sleep(60)

    @step
    def vanishes(marks):
        os._exit(3)

    @step
    def after(marks):
        mark(marks, "after", time.time())
        return os.getpid()

    @step(resources={"cpu": 8})
    def greedy(marks):
        started = time.time()
        time.sleep(0.3)
        mark(marks, "greedy", started)
        return 1

    @step(resources={"gpu": 1})
    def gpu_a(marks):
        started = time.time()
        met = meet(marks, "gpu_a", "plain", 120.0)
        mark(marks, "gpu_a", started, met=met)
        return 1

    @step(resources={"gpu": 1})
    def gpu_b(marks):
        started = time.time()
        met = meet(marks, "gpu_b", "plain", 120.0)
        mark(marks, "gpu_b", started, met=met)
        return 1

    @step
    def plain(marks):
        started = time.time()
        open(os.path.join(marks, "arrived-plain"), "w").close()  # see meet()
        time.sleep(0.3)
        mark(marks, "plain", started)
        return 1
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    return root


@pytest.fixture
def steps(tmp_path: Path) -> Any:
    return load_path_module(tmp_path, f"local_exec_steps_{os.getpid()}", STEPS)


@pytest.fixture
def marks(tmp_path: Path) -> str:
    (tmp_path / "marks").mkdir()
    return str(tmp_path / "marks")


def run(pipeline: Pipeline, plugins: Any, project: Path, **options: Any) -> Any:
    return run_pipeline(
        pipeline, plugins=plugins, project=project, no_cache=True, executor_options=options or None
    )


def test_capacity_follows_max_workers() -> None:
    assert LocalExecutor(max_workers=1).capacity() == 1
    assert LocalExecutor(max_workers=3).capacity() == 3
    assert LocalExecutor().capacity() == (os.cpu_count() or 1)


def test_fork_is_avoided_once_a_fork_unsafe_library_is_imported(monkeypatch) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("fork is the default only on Linux")
    for name in ("tensorflow", "torch", "jax", "mxnet"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert default_start_method() == "fork"
    monkeypatch.setitem(sys.modules, "torch", object())
    assert default_start_method() == "forkserver"


def test_a_killed_or_dead_worker_is_replaced(project, local_plugins, steps, marks) -> None:
    p = Pipeline("replace", [steps.stuck, steps.vanishes], context={"marks": marks})
    result = run(p, local_plugins, project, max_workers=2)
    assert result.steps["stuck"].status == "timed_out"
    assert result.steps["vanishes"].status == "failed"
    assert "exited with code 3" in (result.steps["vanishes"].error or "")
    again = run(
        Pipeline("after", [steps.after], context={"marks": marks}),
        local_plugins,
        project,
        max_workers=2,
    )
    assert again.status == "completed" and again["after"] != os.getpid()


def test_workers_are_gone_when_the_run_returns(project, local_plugins, steps, marks) -> None:
    result = run(
        Pipeline("gone", [steps.after], context={"marks": marks}),
        local_plugins,
        project,
        max_workers=2,
    )
    assert not alive(result["after"])


def test_steps_defined_in_a_function_run_in_this_process(project, local_plugins) -> None:
    seen: list[int] = []

    @step
    def here() -> int:
        seen.append(os.getpid())
        return 1

    @step
    def also_here(here: int) -> int:
        seen.append(os.getpid())
        return here + 1

    result = run(Pipeline("closures", [here, also_here]), local_plugins, project, max_workers=2)
    assert result["also_here"] == 2 and seen == [os.getpid(), os.getpid()]


def test_a_step_asking_for_more_cpus_than_exist_runs_alone(
    project, local_plugins, steps, marks
) -> None:
    p = Pipeline("greedy", [steps.greedy, steps.plain], context={"marks": marks})
    result = run(p, local_plugins, project, max_workers=2)
    assert result.status == "completed"
    seen = attempts(marks)
    assert overlap(seen["greedy"][0], seen["plain"][0]) == 0


def test_declared_resources_are_never_oversubscribed(project, local_plugins, steps, marks) -> None:
    p = Pipeline("gpus", [steps.gpu_a, steps.gpu_b, steps.plain], context={"marks": marks})
    result = run(p, local_plugins, project, max_workers=3, resources={"gpu": 1})
    assert result.status == "completed"
    seen = attempts(marks)
    assert overlap(seen["gpu_a"][0], seen["gpu_b"][0]) == 0
    # plain needs no GPU: it must not queue behind gpu_b, which waits for gpu_a's.
    # Evidence by rendezvous, not duration: the first GPU step waits for plain to
    # arrive, which it can only do while the GPU is held, if plain is not queued.
    assert met_partner(marks, "gpu_a") and met_partner(marks, "gpu_b")


def test_a_big_request_is_not_starved_by_small_ones_behind_it() -> None:
    import threading
    import time

    from flowy_executor_local.pool import WorkerPool

    pool = WorkerPool(2, {"cpu": 2.0}, "fork")
    order: list[str] = []
    release_a = threading.Event()

    def hold(name: str, cpu: float, until: threading.Event | None = None) -> None:
        with pool.reserve({"cpu": cpu}) as granted:
            assert granted
            order.append(name)
            if until is not None:
                until.wait(5)
            else:
                time.sleep(0.05)

    a = threading.Thread(target=hold, args=("a", 1.0, release_a))
    a.start()
    time.sleep(0.05)
    b = threading.Thread(target=hold, args=("b", 2.0))
    b.start()
    time.sleep(0.05)
    c = threading.Thread(target=hold, args=("c", 1.0))
    c.start()
    time.sleep(0.1)
    assert order == ["a"], "c took the CPU that b, waiting longer, needs"
    release_a.set()
    for t in (a, b, c):
        t.join(5)
    assert order == ["a", "b", "c"]
    pool.close()


def test_clean_workers_leave_steps_they_cannot_import_to_this_process(
    project, local_plugins
) -> None:
    """exec-made and renamed functions exist only here: forkserver workers would not find them."""
    namespace: dict[str, Any] = {"__name__": __name__}
    exec("def made_by_exec():\n    import os\n    return os.getpid()\n", namespace)
    globals()["made_by_exec"] = namespace["made_by_exec"]

    def renamed() -> int:
        return os.getpid()

    renamed.__name__ = renamed.__qualname__ = "renamed_step"
    globals()["renamed_step"] = renamed
    p = Pipeline("clean", [Step(namespace["made_by_exec"]), Step(renamed)])
    result = run(p, local_plugins, project, max_workers=2, start_method="forkserver")
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert result["made_by_exec"] == result["renamed_step"] == os.getpid()


def test_forkserver_workers_see_the_environment_of_the_run(tmp_path, monkeypatch):
    """A variable set after the forkserver started (e.g. credentials) reaches the worker."""
    import multiprocessing

    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    ctx = multiprocessing.get_context("forkserver")
    ctx.Process(target=print, args=("warm",)).start()  # the server exists before the variable
    monkeypatch.setenv("FLOWY_TEST_SECRET_LATE", "set-after-the-server-started")
    project = tmp_path / "p"
    (project / ".flowy").mkdir(parents=True)
    (project / "env_pipe.py").write_text(
        "import os\n"
        "from flowy import Pipeline, step\n\n"
        "@step\ndef a():\n    return os.environ.get('FLOWY_TEST_SECRET_LATE')\n\n"
        "@step\ndef b():\n    return os.environ.get('FLOWY_TEST_SECRET_LATE')\n\n"
        "pipeline = Pipeline('envp', [a, b])\n"
    )
    monkeypatch.setenv("FLOWY_PROJECT", str(project))
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    module = load_module(project / "env_pipe.py")
    plugins = create_plugin_manager(
        entrypoints=False,
        plugins=[
            ("flowy-executor-local", importlib.import_module("flowy_executor_local.plugin")),
            ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
        ],
    )
    result = run_pipeline(
        module.pipeline,
        plugins=plugins,
        project=project,
        executor_options={"max_workers": 2, "start_method": "forkserver"},
    )
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert result["a"] == result["b"] == "set-after-the-server-started"


FORKED_AFTER_FORKSERVER = """
import os, sys
from pathlib import Path
from flowy import Pipeline, step
from flowy.run.engine import run_pipeline

@step
def a() -> int:
    return os.getpid()

@step
def b() -> int:
    return os.getpid()

pipeline = Pipeline("after_fork", [a, b])


def main() -> int:
    options = {"max_workers": 2, "start_method": "forkserver"}
    project = Path(sys.argv[1])
    first = run_pipeline(pipeline, project=project, executor_options=options, no_cache=True)
    assert first.ok, first
    pid = os.fork()  # as pipeline.sweep() forks its runs
    if pid == 0:
        try:
            again = run_pipeline(pipeline, project=project, executor_options=options, no_cache=True)
            errors = {k: v.error for k, v in again.steps.items() if v.error}
            print("child:", again.status, errors, flush=True)
            os._exit(0 if again.ok else 1)
        except BaseException as exc:
            print("child raised:", repr(exc), flush=True)
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":  # the forkserver imports this file too
    sys.exit(main())
"""


def test_a_process_forked_after_the_forkserver_started_starts_its_own(tmp_path):
    """multiprocessing's forkserver is one per process: a forked child inherited the parent's
    and failed its first worker start (ChildProcessError) until it forgets it."""
    import subprocess
    import sys

    project = tmp_path / "p"
    (project / ".flowy").mkdir(parents=True)
    script = tmp_path / "forked_after.py"
    script.write_text(FORKED_AFTER_FORKSERVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_PROJECT=str(project))
    done = subprocess.run(
        [sys.executable, str(script), str(project)], env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "child: completed {}" in done.stdout
