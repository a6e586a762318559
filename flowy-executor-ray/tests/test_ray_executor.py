"""The ray executor beyond the contract: resources, timeouts, its own instance, bad addresses.

Steps live in pipeline files written to the test's folder and loaded by path, as
``flowy run FILE`` loads them, so Ray workers import them from that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy.run.engine import run_pipeline
from flowy.stacks.definitions import get_stack
from flowy.stacks.resolution import check_stack
from flowy.testing._executor_support import alive, attempts, load_path_module

FLOWY = Path(sys.executable).with_name("flowy")

RESOURCE_STEPS = textwrap.dedent(
    """
    import os, time
    from flowy import Pipeline, step

    @step(resources={"cores": 2, "gpu": 1, "memory": "1GB", "fast_disk": 1})
    def hungry(marks: str) -> str:
        open(os.path.join(marks, "running"), "w").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(marks, "seen")):
            if time.monotonic() > deadline:
                raise RuntimeError("the test never saw the step's resources in use")
            time.sleep(0.05)
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")

    @step(resources={"gpu": 2})
    def greedy() -> int:
        return 1

    @step(resources={"memory": 4})
    def tiny() -> int:
        return 1

    @step(resources={"cpu": 1, "instance_type": "ml.m5.xlarge"})
    def portable() -> int:
        return 1

    pipeline = Pipeline("resources", [hungry], context={"marks": ""})
    """
)

TIMEOUT_STEPS = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from flowy import Pipeline, step
    from flowy.testing._contract_steps import mark

    @step(timeout=1.0, retries=1, retry_backoff=0.05)
    def overrun(marks: str) -> str:
        started = time.time()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(marks, f"overrun.{os.getpid()}.pids"), "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        mark(marks, "overrun", started)
        time.sleep(120)
        return "never"

    @step(timeout=60.0)
    def quick(marks: str) -> int:
        mark(marks, "quick", time.time())
        return 7

    @step
    def after_quick(marks: str, quick: int) -> int:
        mark(marks, "after_quick", time.time())
        return quick + 1

    pipeline = Pipeline("timeouts", [overrun, quick, after_quick], context={"marks": ""})
    """
)

OWN_INSTANCE = textwrap.dedent(
    """
    import json, os
    import ray
    from flowy import Pipeline, step

    @step
    def where() -> dict:
        ctx = ray.get_runtime_context()
        return {
            "worker": os.getpid(), "raylet": os.getppid(), "gcs": ctx.gcs_address,
            "nice": os.nice(0),
        }

    @step
    def report(where: dict, out: str) -> int:
        seen = {**where, "cpus": ray.cluster_resources().get("CPU")}
        with open(out, "w") as f:
            json.dump(seen, f)
        return 1

    pipeline = Pipeline("own", [where, report], context={"out": "seen.json"})
    """
)


def _flowy_env(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWY_", "RAY_"))}
    env.update(
        FLOWY_HOME=str(project.parent / "home"),
        FLOWY_PROJECT=str(project),
        FLOWY_LOAD_PLUGINS="flowy-executor-ray,flowy-executor-local,flowy-store-sqlite",
        **extra,
    )
    return env


def _flowy(project: Path, *args: str, timeout: float = 240, **env: str) -> Any:
    command = [str(FLOWY)] if FLOWY.exists() else [sys.executable, "-m", "flowy_cli.main"]
    return subprocess.run(
        [*command, *args],
        cwd=project,
        env=_flowy_env(project, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- without a cluster -----------------------------------------------------------------


def test_discovering_and_checking_the_plugin_does_not_import_ray(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import importlib, sys
        from pathlib import Path
        from flowy.kernel.plugins import create_plugin_manager
        from flowy.stacks.definitions import get_stack
        from flowy.stacks.resolution import check_stack
        plugins = create_plugin_manager(entrypoints=False, plugins=[
            ("flowy-executor-ray", importlib.import_module("flowy_executor_ray.plugin")),
            ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
        ])
        project = Path(sys.argv[1])
        checked = check_stack(get_stack("ray", plugins, project), plugins, project)
        assert checked["executor"].cls.__name__ == "RayExecutor"
        print("ray" in sys.modules)
        """
    )
    (tmp_path / ".flowy").mkdir()
    env = {**os.environ, "FLOWY_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", "resolving the ray stack imported ray"


def test_the_ray_stack_is_offered_and_resolves(project: Path, ray_plugins: Any) -> None:
    defn = get_stack("ray", ray_plugins, project)
    assert defn.components["executor"]["type"] == "ray"
    checked = check_stack(defn, ray_plugins, project)
    assert checked["executor"].cls.__name__ == "RayExecutor"


def test_a_misspelt_option_is_named(project: Path, ray_plugins: Any) -> None:
    from flowy.stacks.definitions import StackDefinition

    defn = StackDefinition(
        "typo",
        {
            "executor": {"type": "ray", "num_cpu": 2},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/m.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        },
        "project",
    )
    with pytest.raises(FlowyError, match="num_cpu"):
        check_stack(defn, ray_plugins, project)


def test_sizing_a_cluster_given_by_address_is_refused(project: Path, ray_plugins: Any) -> None:
    from flowy.stacks.definitions import StackDefinition

    defn = StackDefinition(
        "sized",
        {
            "executor": {"type": "ray", "address": "head.example.com:6379", "num_cpus": 8},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/m.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        },
        "project",
    )
    with pytest.raises(FlowyError, match="num_cpus size the local Ray instance"):
        check_stack(defn, ray_plugins, project)


def test_a_ray_client_address_is_refused_with_what_to_do_instead() -> None:
    from flowy_executor_ray.connection import connect

    with pytest.raises(FlowyError, match="Ray Client address") as caught:
        connect("ray://head.example.com:10001", None, None, {})
    assert "ray job submit" in str(caught.value)


# -- on the session's cluster ----------------------------------------------------------


@pytest.mark.slow
def test_step_resources_are_what_ray_reserves_while_it_runs(
    project: Path, ray_plugins: Any, ray_cluster: str, ray_module: Any, tmp_path: Path
) -> None:
    """cores -> num_cpus (renamed), gpu -> num_gpus, memory -> memory, fast_disk -> special:
    the test reads Ray's own ledger of available resources while the step holds them."""
    module = load_path_module(tmp_path, "ray_resources_steps", RESOURCE_STEPS)
    marks = tmp_path / "marks"
    marks.mkdir()
    total_memory = ray_module.cluster_resources()["memory"]
    held: dict[str, float] = {}

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (marks / "running").exists():
                free = ray_module.available_resources()
                if free.get("special") == 1 and free.get("GPU", 0) == 0:
                    held.update(free)
                    break
            time.sleep(0.1)
        (marks / "seen").touch()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = run_pipeline(
        module.pipeline,
        stack="ray",
        plugins=ray_plugins,
        project=project,
        params={"marks": str(marks)},
        executor_options={
            "address": ray_cluster,
            "resources": {"cores": "cpu", "fast_disk": "special"},
        },
        no_cache=True,
    )
    watcher.join()
    assert result.status == "completed", result.steps["hungry"].error
    assert held, "Ray never showed the step's resources in use"
    assert held.get("CPU", 0) == ray_module.cluster_resources()["CPU"] - 2
    assert held["memory"] == pytest.approx(total_memory - 1e9)
    assert result["hungry"] == "0"  # Ray gave the task the (logical) GPU 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("greedy", ["GPU=2 is more than any Ray node offers", "largest per node: CPU=2, GPU=1"]),
        ("tiny", ["memory=4", 'resources={"memory": "4GB"}']),
    ],
)
def test_a_request_no_node_can_hold_fails_at_once_with_the_fix(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path, name: str, expected: Any
) -> None:
    from flowy import Pipeline

    module = load_path_module(tmp_path, f"ray_resources_{name}", RESOURCE_STEPS)
    pipeline = Pipeline(name, [getattr(module, name)])
    result = run_pipeline(
        pipeline,
        stack="ray",
        plugins=ray_plugins,
        project=project,
        executor_options={"address": ray_cluster},
        no_cache=True,
    )
    rec = result.steps[name]
    assert rec.status == "failed" and rec.error is not None
    for words in expected:
        assert words in rec.error


@pytest.mark.slow
def test_values_ray_does_not_schedule_by_are_left_to_other_executors(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path
) -> None:
    from flowy import Pipeline

    module = load_path_module(tmp_path, "ray_resources_portable", RESOURCE_STEPS)
    result = run_pipeline(
        Pipeline("portable", [module.portable]),
        stack="ray",
        plugins=ray_plugins,
        project=project,
        executor_options={"address": ray_cluster},
        no_cache=True,
    )
    assert result.status == "completed" and result["portable"] == 1


@pytest.mark.slow
def test_a_step_over_its_timeout_is_stopped_retried_and_the_worker_goes_on(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "ray_timeout_steps", TIMEOUT_STEPS)
    marks = tmp_path / "marks"
    marks.mkdir()
    result = run_pipeline(
        module.pipeline,
        stack="ray",
        plugins=ray_plugins,
        project=project,
        params={"marks": str(marks)},
        executor_options={"address": ray_cluster},
        no_cache=True,
    )
    rec = result.steps["overrun"]
    assert rec.status == "timed_out" and rec.attempts == 2, rec.error
    assert "overran its timeout of 1 s and was stopped" in (rec.error or "")
    assert result.steps["after_quick"].status == "completed" and result["after_quick"] == 8
    assert len(attempts(str(marks))["overrun"]) == 2
    pids = [int(p) for f in marks.glob("overrun.*.pids") for p in f.read_text().split()]
    assert len(pids) == 4
    deadline = time.monotonic() + 15
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "an overrun attempt or its child still runs"


@pytest.mark.slow
def test_an_address_other_than_the_connected_cluster_is_refused(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path, free_port: Any
) -> None:
    module = load_path_module(tmp_path, "ray_other_address", OWN_INSTANCE)
    other = f"127.0.0.1:{free_port()}"
    with pytest.raises(FlowyError, match="already connected to the Ray cluster at") as caught:
        run_pipeline(
            module.pipeline,
            stack="ray",
            plugins=ray_plugins,
            project=project,
            executor_options={"address": other},
        )
    assert other in str(caught.value) and "one cluster per process" in str(caught.value)


# -- in a process of its own -----------------------------------------------------------


@pytest.mark.slow
def test_an_unreachable_address_is_a_clear_error_and_a_failed_command(
    project: Path, free_port: Any
) -> None:
    (project / "own.py").write_text(OWN_INSTANCE)
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = _flowy(
        project, "run", "own.py", "--stack", "ray", "--executor-option", f"address={address}"
    )
    assert done.returncode != 0
    shown = done.stdout + done.stderr
    assert f"Cannot reach the Ray cluster at {address}" in shown, shown
    assert "connection refused" in shown.lower() and "ray status" in shown
    assert "Traceback" not in shown


@pytest.mark.slow
def test_without_an_address_a_local_instance_is_started_on_loopback_and_stopped(
    project: Path,
) -> None:
    (project / "own.py").write_text(OWN_INSTANCE)
    out = project / "seen.json"
    done = _flowy(
        project, "run", "own.py", "--stack", "ray", "--param", f"out={out}",
        "--executor-option", "num_cpus=2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(out.read_text())
    assert seen["cpus"] == 2
    assert seen["gcs"].startswith("127.0.0.1:"), "the run's own instance listens beyond loopback"
    assert seen["nice"] == 0, "steps run at a lower priority than on the local executor"
    pids = [seen["worker"], seen["raylet"]]
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)], "the run's Ray instance outlived it"


@pytest.mark.slow
def test_a_fresh_process_connects_to_a_cluster_by_address_and_is_told_about_tokens(
    project: Path, ray_cluster: str
) -> None:
    """The session's cluster uses token authentication. ``flowy run`` in a fresh process
    connects by address when RAY_AUTH_MODE=token (what Ray reads for an explicit address)
    says to send the token; without it, it is told what to set."""
    (project / "own.py").write_text(OWN_INSTANCE)
    out = project / "seen.json"
    args = ["run", "own.py", "--stack", "ray", "--executor-option", f"address={ray_cluster}"]
    done = _flowy(project, *args, "--param", f"out={out}", RAY_AUTH_MODE="token")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(out.read_text())["gcs"] == ray_cluster

    refused = _flowy(project, *args)
    assert refused.returncode != 0
    shown = " ".join((refused.stdout + refused.stderr).split())
    assert f"Could not connect to the Ray cluster at {ray_cluster}" in shown, shown
    assert "set RAY_AUTH_MODE=token" in shown and "Traceback" not in shown
