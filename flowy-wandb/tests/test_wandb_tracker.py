"""flowy-wandb on real pipelines, W&B offline, read back with wandb's own reader.

Each test runs a real pipeline on a stack whose ``tracker`` is ``wandb``
(offline, its folder in the test's temporary folder), then reads the offline
run files with ``wandb leet inspect`` (see conftest.py) and checks what a
W&B user would see once synced: config, metric series with their index,
status, tags, step structure and artifact references. Slow: each run starts
wandb's service process.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.plugins import create_plugin_manager
from flowy.run.engine import run_pipeline

pytestmark = pytest.mark.slow

PIPELINE = """
import flowy
from flowy import Pipeline, step


@step
def prepare(rows: int = 5) -> list:
    return list(range(rows))


@step
def train(prepare: list, lr: float = 0.1) -> dict:
    for i in range(2500):
        flowy.log_metric("loss", 1.0 / (i + 1), step=i)
    flowy.log_metric("accuracy", 0.5 + lr)
    flowy.log_params({"optimizer": "adam", "layers": 3})
    with open("confusion.csv", "w") as f:
        f.write("a,b\\n1,2\\n")
    flowy.log_artifact("confusion.csv")
    return {"weights": [lr] * len(prepare)}


@step
def evaluate(train: dict, fail: bool = False) -> float:
    if fail:
        raise RuntimeError("evaluation failed on purpose")
    return sum(train["weights"])


@step
def report(evaluate: float) -> str:
    return f"score {evaluate}"


pipeline = Pipeline("mlpipe", [prepare, train, evaluate, report], experiment="churn")
"""

STACK = """
[executor]
type = "local"
[metadata_store]
type = "sqlite"
url = "sqlite:///{project}/.flowy/metadata.db"
[artifact_store]
type = "local"
path = "{project}/.flowy/artifacts"
[tracker]
type = "wandb"
mode = "offline"
dir = "{project}/wandb-runs"
tags = ["nightly"]
"""

PLUGINS = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ("flowy-wandb", "flowy_wandb.plugin"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".flowy" / "stacks").mkdir(parents=True)
    (root / ".flowy" / "stacks" / "tracked.toml").write_text(STACK)
    (root / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root


def _plugins() -> Any:
    return create_plugin_manager(
        entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in PLUGINS]
    )


def _run(project: Path, params: dict[str, Any], plugins: Any = None) -> Any:
    from flowy.run.loader import load_pipeline

    pipeline = load_pipeline(str(project / "pipe.py"))
    return run_pipeline(pipeline, "tracked", params, plugins=plugins or _plugins())


def _environ(project: Path, **env: str) -> dict[str, str]:
    """This test's environment for a child process: its own FLOWY_HOME, the plugins under
    test, and without WANDB_SERVICE, which wandb sets in a process that started a run (a
    child would otherwise join that process's W&B service rather than start its own)."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("FLOWY_") and k != "WANDB_SERVICE"
    }
    environ.update(
        FLOWY_HOME=str(project.parent / "home"),
        FLOWY_PROJECT=str(project),
        FLOWY_LOAD_PLUGINS=",".join(name for name, _ in PLUGINS),
        **env,
    )
    return environ


def _flowy(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    flowy = Path(sys.executable).with_name("flowy")
    return subprocess.run(
        [str(flowy), *args], cwd=project, env=_environ(project, **env),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_run_is_mirrored_and_wandb_reads_it_back(project: Path, read_runs: Any) -> None:
    result = _run(project, {"lr": 0.25, "rows": 4})
    assert result.ok

    runs = read_runs(project / "wandb-runs")
    assert set(runs) == {result.run_id}  # the W&B run id is the Flowy run id
    run = runs[result.run_id]
    assert run.state["state"] == "finished" and run.state["exit_code"] == 0
    assert run.state["project"] == "churn"  # the Flowy experiment
    assert run.state["name"] == f"mlpipe-{result.run_id[:8]}"
    assert set(run.state["tags"]) == {"flowy", "pipeline:mlpipe", "stack:tracked", "nightly"}
    assert run.run_record["run_group"] == "mlpipe"
    assert run.run_record["job_type"] == "flowy-pipeline"

    # Parameters: the run's, the steps' defaults and what steps logged, as native values.
    config = run.config
    assert config["lr"] == 0.25 and config["rows"] == 4
    assert config["optimizer"] == "adam" and config["layers"] == 3
    assert config["flowy"]["run_id"] == result.run_id
    assert config["flowy"]["pipeline"] == "mlpipe" and config["flowy"]["stack"] == "tracked"

    # Metrics: a series keeps every value with Flowy's index on the step's own axis.
    rows = run.history("train/loss")
    assert [row["train/_step"] for row in rows] == list(range(2500))
    assert rows[9]["train/loss"] == pytest.approx(0.1)
    (accuracy,) = run.history("train/accuracy")
    assert accuracy["train/accuracy"] == pytest.approx(0.75) and accuracy["train/_step"] == 0
    assert run.summary["train/loss"] == pytest.approx(1 / 2500)  # the last value, as Flowy's
    defined = {m["name"]: m for r in run.records if r["type"] == "metric" for m in [r["metric"]]}
    assert defined["train/loss"]["step_metric"] == "train/_step"
    assert defined["train/accuracy"]["step_metric"] == "train/_step"
    assert defined["train/_step"]["options"]["hidden"] is True

    # Status and structure.
    assert run.summary["flowy/status"] == "completed"
    steps = {name: run.summary[f"flowy/steps/{name}"] for name in
             ("prepare", "train", "evaluate", "report")}  # fmt: skip
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(steps, "completed")
    assert steps["prepare"]["upstream"] == []
    assert steps["train"]["upstream"] == ["prepare"]
    assert steps["report"]["upstream"] == ["evaluate"]
    assert steps["train"]["attempts"] == 1

    # Artifacts: references to Flowy's artifact store with Flowy's checksums, no copies.
    artifact = run.artifacts()["mlpipe-train"]
    assert artifact["type"] == "flowy-step"
    assert set(artifact["aliases"]) == {"latest", f"run-{result.run_id}"}
    entries = {e["path"]: e for e in artifact["manifest"]["contents"]}
    assert set(entries) == {"outputs/train.json", "files/confusion.csv"}
    from flowy.tracking import Client

    with Client("tracked", project, plugins=_plugins()) as client:
        (logged,) = client.store.list_artifacts(result.run_id, name="confusion.csv")
    flowy_refs = {"outputs/train.json": result.artifacts["train"], "files/confusion.csv": logged}
    for path, ref in flowy_refs.items():
        entry = entries[path]
        assert entry["ref"] == Path(ref.uri).as_uri()
        assert entry["extra"]["flowy_checksum"] == ref.checksum
        assert entry["extra"]["materializer"] == ref.materializer
        assert int(entry["size"]) == ref.size
        assert Path(ref.uri).is_file()
    copies = [p for p in (project / "wandb-runs").rglob("confusion.csv")]
    assert copies == [], "W&B got a copy of a logged file instead of a reference"


def test_a_failed_run_is_failed_in_wandb_with_each_step_outcome(
    project: Path, read_runs: Any
) -> None:
    result = _run(project, {"fail": True})
    assert result.status == "failed"

    run = read_runs(project / "wandb-runs")[result.run_id]
    assert run.state["state"] == "failed" and run.state["exit_code"] == 1
    assert run.summary["flowy/status"] == "failed"
    assert run.summary["flowy/steps/evaluate"]["status"] == "failed"
    assert run.summary["flowy/steps/evaluate"]["upstream"] == ["train"]
    assert run.summary["flowy/steps/report"]["status"] == "skipped"
    assert "mlpipe-evaluate" not in run.artifacts()  # a failed step wrote no output


def test_a_cached_rerun_is_a_second_wandb_run_marking_cached_steps(
    project: Path, read_runs: Any
) -> None:
    plugins = _plugins()
    first = _run(project, {"lr": 0.1}, plugins)
    second = _run(project, {"lr": 0.1}, plugins)
    assert first.ok and second.ok

    runs = read_runs(project / "wandb-runs")
    assert set(runs) == {first.run_id, second.run_id}
    cached = runs[second.run_id]
    assert cached.state["state"] == "finished"
    train = cached.summary["flowy/steps/train"]
    assert train == {"status": "cached", "upstream": ["prepare"], "cached_from": first.run_id}
    assert cached.config["lr"] == 0.1  # a cached step's parameters are still the run's
    assert cached.history("train/loss") == []  # it logged nothing: it did not run
    assert cached.artifacts() == {}  # its outputs are the first run's W&B artifacts
    assert set(runs[first.run_id].artifacts()) == {
        "mlpipe-prepare", "mlpipe-train", "mlpipe-evaluate", "mlpipe-report"
    }  # fmt: skip


def test_the_flowy_command_mirrors_through_the_installed_entry_point(
    project: Path, read_runs: Any
) -> None:
    done = _flowy(project, "run", "pipe.py", "--stack", "tracked", "--experiment", "cli-exp",
                  "-p", "lr=0.4")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr, done.stderr

    (run,) = read_runs(project / "wandb-runs").values()
    assert run.state["project"] == "cli-exp"
    assert run.summary["train/accuracy"] == pytest.approx(0.9)
    assert run.config["flowy"]["experiment"] == "cli-exp"


def test_a_wandb_failure_is_a_warning_and_the_run_completes(project: Path) -> None:
    """wandb.init itself refuses (an invalid WANDB_MODE reaches W&B's settings): the run
    completes, Flowy records it, and the user is told which plugin failed and why."""
    stack = project / ".flowy" / "stacks" / "tracked.toml"
    stack.write_text(STACK.replace('mode = "offline"\n', ""))  # the mode is W&B's, from env
    done = _flowy(project, "run", "pipe.py", "--stack", "tracked", WANDB_MODE="sometimes")
    assert done.returncode == 0, done.stdout + done.stderr
    stderr = " ".join(done.stderr.split())  # the terminal's line breaks
    assert "Warning: plugin tracker 'wandb' from flowy-wandb 0.1.0 raised in " in stderr, stderr
    assert "flowy_pipeline_started: WandbMirrorError: W&B failed (ValidationError:" in stderr
    assert "this run is no longer mirrored to W&B. The Flowy run goes on" in stderr
    assert "input_value='sometimes'" in stderr  # W&B's own words about the bad value
    assert stderr.count("Warning") == 1, stderr  # once, not once per hook

    listed = _flowy(project, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"completed"' in listed.stdout
    assert not (project / "wandb-runs").exists() or not list(
        (project / "wandb-runs").rglob("*.wandb")
    )


SABOTAGE = """
import os
import signal
import socket
import signal
import socket
from flowy import Pipeline, step


@step
def prepare() -> int:
    return 1


@step
def sabotage(prepare: int) -> int:
    # W&B's service (wandb-core) is a child of the orchestrating process (this one, or
    # this worker's parent): kill it, as an out-of-memory killer or a crash would.
    def command(pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()

    orchestrator = next(p for p in (os.getpid(), os.getppid()) if b"sabotage.py" in command(p))
    killed = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{pid}/status") as f:
                ppid = int(next(l for l in f if l.startswith("PPid:")).split()[1])
        except OSError:
            continue
        if b"wandb-core" in command and ppid == orchestrator:
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    assert killed, "no wandb-core process found"
    return prepare + killed


@step
def after(sabotage: int) -> int:
    return sabotage


pipeline = Pipeline("sabotaged", [prepare, sabotage, after])
"""


def test_wandb_dying_mid_run_is_one_warning_and_the_run_completes(project: Path) -> None:
    (project / "sabotage.py").write_text(SABOTAGE)
    done = _flowy(project, "run", "sabotage.py", "--stack", "tracked")
    assert done.returncode == 0, done.stdout + done.stderr
    stderr = " ".join(done.stderr.split())
    assert stderr.count("Warning: plugin tracker 'wandb'") == 1, stderr
    assert "raised in flowy_step_finished: WandbMirrorError: W&B failed" in stderr, stderr
    assert "Traceback" not in stderr  # nor wandb's exit hook about the same lost service
    listed = _flowy(project, "runs", "list", "--json")
    (flowy_run,) = json.loads(listed.stdout)
    assert flowy_run["status"] == "completed"
    # W&B had begun the run (what its killed service had not written yet is lost).
    assert list((project / "wandb-runs").rglob(f"run-{flowy_run['run_id']}.wandb"))


def test_after_wandb_died_the_next_run_in_the_process_is_mirrored_again(
    project: Path, read_runs: Any
) -> None:
    (project / "sabotage.py").write_text(SABOTAGE)
    code = textwrap.dedent(
        """
        import warnings
        from flowy.run.engine import run_pipeline
        from flowy.run.loader import load_pipeline
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = run_pipeline(load_pipeline("sabotage.py"), "tracked", {})
        assert first.ok and len(caught) == 1, [str(w.message) for w in caught]
        second = run_pipeline(load_pipeline("pipe.py"), "tracked", {})
        assert second.ok
        print(second.run_id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=_environ(project),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    second = done.stdout.split()[-1]
    run = read_runs(project / "wandb-runs")[second]
    assert run.state["state"] == "finished"
    assert run.summary["flowy/steps/train"]["status"] == "completed"


CLASHING = """
import flowy
from flowy import Pipeline, step


@step
def a() -> int:
    flowy.log_params({"k": 1, "shared": "same"})
    return 1


@step
def b(a: int) -> int:
    flowy.log_params({"k": 2, "shared": "same"})
    return a


pipeline = Pipeline("clashing", [a, b])
"""


def test_a_key_two_steps_log_with_different_values_keeps_both(
    project: Path, read_runs: Any
) -> None:
    (project / "clashing.py").write_text(CLASHING)
    from flowy.run.loader import load_pipeline

    result = run_pipeline(load_pipeline("clashing.py"), "tracked", {}, plugins=_plugins())
    assert result.ok
    config = read_runs(project / "wandb-runs")[result.run_id].config
    assert config["k"] == 1 and config["b.k"] == 2  # as Flowy shows the run's parameters
    assert config["shared"] == "same" and "b.shared" not in config


MAPPED = """
import flowy
from flowy import Pipeline, step


@step
def regions() -> list:
    return ["north", "south"]


@step(map="regions", outputs=["scores"])
def train(regions: str) -> float:
    flowy.log_metric("score", len(regions) / 10)
    return len(regions) / 10


pipeline = Pipeline("per_region", [regions, train])
"""


BETWEEN_RUNS = """
import os, signal, time, warnings
from flowy.run.engine import run_pipeline
from flowy.run.loader import load_pipeline

first = run_pipeline(load_pipeline("pipe.py"), "tracked", {})
services = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
        with open(f"/proc/{pid}/status") as f:
            ppid = int(next(l for l in f if l.startswith("PPid:")).split()[1])
    except OSError:
        continue
    if b"wandb-core" in command and ppid == os.getpid():
        os.kill(int(pid), signal.SIGKILL)
        services.append(int(pid))
assert services, "no wandb-core child"
for pid in services:  # gone (or a zombie) before the next run starts
    while True:
        try:
            with open(f"/proc/{pid}/status") as f:
                if any(l.startswith("State:") and "Z" in l for l in f):
                    break
        except OSError:
            break
        time.sleep(0.05)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    second = run_pipeline(load_pipeline("pipe.py"), "tracked", {"lr": 0.3})
assert first.ok and second.ok
assert not caught, [str(w.message) for w in caught]
print(first.run_id, second.run_id)
"""


def test_a_service_that_died_between_runs_is_started_again_without_a_warning(
    project: Path, read_runs: Any
) -> None:
    """A long-lived process (a scheduler, a notebook): W&B's service dies while no run is
    mirrored; the next run starts a new one instead of failing with wandb's closed mailbox."""
    done = subprocess.run(
        [sys.executable, "-c", BETWEEN_RUNS], cwd=project, env=_environ(project),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = done.stdout.split()[-2:]
    runs = read_runs(project / "wandb-runs")
    assert runs[first].state["state"] == runs[second].state["state"] == "finished"
    assert runs[second].config["lr"] == 0.3


def test_map_elements_are_steps_with_their_own_axis_and_artifact(
    project: Path, read_runs: Any
) -> None:
    (project / "mapped.py").write_text(MAPPED)
    from flowy.run.loader import load_pipeline

    result = run_pipeline(load_pipeline("mapped.py"), "tracked", {}, plugins=_plugins())
    assert result.ok
    run = read_runs(project / "wandb-runs")[result.run_id]
    defined = {m["name"]: m for r in run.records if r["type"] == "metric" for m in [r["metric"]]}
    for element in ("train[0]", "train[1]"):  # '[' is a glob character: keys are named
        assert defined[f"{element}/score"]["step_metric"] == f"{element}/_step"
        assert run.summary[f"{element}/score"] == pytest.approx(0.5)
        assert run.summary[f"flowy/steps/{element}"]["upstream"] == ["regions"]
    assert run.summary["flowy/steps/train"]["status"] == "completed"
    assert {"per_region-train_0_", "per_region-train_1_", "per_region-train"} <= set(
        run.artifacts()
    )


SLOW = """
import pathlib
import time
from flowy import Pipeline, step


@step
def first() -> int:
    return 1


@step
def wait(first: int) -> int:
    pathlib.Path("started").touch()
    time.sleep(120)
    return first


pipeline = Pipeline("interrupted", [first, wait])
"""


def test_a_cancelled_run_ends_its_wandb_run_with_ctrl_c_s_exit_code(
    project: Path, read_runs: Any
) -> None:
    (project / "slow.py").write_text(SLOW)
    flowy = Path(sys.executable).with_name("flowy")
    proc = subprocess.Popen(
        [str(flowy), "run", "slow.py", "--stack", "tracked"], cwd=project, env=_environ(project),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not (project / "started").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "Warning" not in err, err

    (run,) = read_runs(project / "wandb-runs").values()
    assert run.summary["flowy/status"] == "cancelled"
    assert run.state["state"] == "failed" and run.state["exit_code"] == 130
    assert run.summary["flowy/steps/first"]["status"] == "completed"


VANISHING = """
import pathlib
import flowy
from flowy import Pipeline, step


@step
def logs() -> int:
    pathlib.Path("notes.txt").write_text("kept by Flowy")
    flowy.log_artifact("notes.txt")
    # The stored copy disappears before the tracker mirrors the step (as if collected).
    for stored in pathlib.Path(".flowy/artifacts").rglob("notes.txt"):
        stored.unlink()
    return 1


@step
def later(logs: int) -> int:
    flowy.log_metric("m", 1.0)
    return logs


pipeline = Pipeline("vanishing", [logs, later])
"""


def test_a_failure_while_wandb_answers_ends_the_wandb_run_failed_saying_why(
    project: Path, read_runs: Any
) -> None:
    (project / "vanishing.py").write_text(VANISHING)
    from flowy.run.loader import load_pipeline

    with pytest.warns(RuntimeWarning, match="no longer mirrored") as caught:
        result = run_pipeline(load_pipeline("vanishing.py"), "tracked", {}, plugins=_plugins())
    assert result.ok  # Flowy's run is not W&B's business
    assert len([w for w in caught if "flowy-wandb" in str(w.message)]) == 1

    run = read_runs(project / "wandb-runs")[result.run_id]
    assert run.state["state"] == "failed" and run.state["exit_code"] == 1
    assert run.summary["flowy/mirroring"].startswith("stopped: ValueError: Path 'file://")
    assert "flowy/status" not in run.summary
    assert run.history("later/m") == []  # nothing after the failure


def test_an_unreachable_wandb_server_delays_the_run_at_most_init_timeout_then_warns(
    project: Path,
) -> None:
    """Online, with a key, against a W&B server that is down (a closed port on 127.0.0.1):
    wandb.init gives up after ``init_timeout``; the run completes with one warning."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stack = project / ".flowy" / "stacks" / "tracked.toml"
    stack.write_text(STACK.replace('mode = "offline"', 'mode = "online"\ninit_timeout = 3'))
    done = _flowy(
        project, "run", "pipe.py", "--stack", "tracked",
        WANDB_API_KEY="x" * 40, WANDB_BASE_URL=f"http://127.0.0.1:{port}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    stderr = " ".join(done.stderr.split())
    assert stderr.count("Warning: plugin tracker 'wandb'") == 1, stderr
    assert "W&B failed (CommError: Timed out while retrying" in stderr, stderr
    assert f"127.0.0.1:{port}" in stderr and "connection refused" in stderr
    assert "completed" in done.stdout


def test_a_bad_dir_is_a_warning_naming_it_and_the_run_completes(project: Path) -> None:
    """``dir`` names a file: W&B would quietly write to /tmp instead; the tracker refuses
    it, and the run still completes with a warning that names the folder."""
    (project / "not-a-folder").write_text("a file")
    stack = project / ".flowy" / "stacks" / "tracked.toml"
    stack.write_text(STACK.replace("{project}/wandb-runs", "{project}/not-a-folder/wandb"))
    with pytest.warns(RuntimeWarning, match=r"tracker 'wandb'.*not-a-folder") as caught:
        result = _run(project, {})
    assert result.ok
    assert len([w for w in caught if "flowy-wandb" in str(w.message)]) == 1


def test_mode_disabled_never_imports_wandb(project: Path) -> None:
    stack = project / ".flowy" / "stacks" / "tracked.toml"
    stack.write_text(STACK.replace('mode = "offline"', 'mode = "disabled"'))
    code = textwrap.dedent(
        """
        import sys
        from flowy.run.engine import run_pipeline
        from flowy.run.loader import load_pipeline
        result = run_pipeline(load_pipeline("pipe.py"), "tracked", {})
        assert result.ok, result.status
        assert "wandb" not in sys.modules, "mode=disabled imported wandb"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=_environ(project),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (project / "wandb-runs").exists()


def test_a_bad_option_is_refused_when_the_stack_is_registered(project: Path) -> None:
    done = _flowy(project, "stack", "register", "wb", "--executor", "local",
                  "--metadata-store", "sqlite",
                  "--metadata-store-option", "url=sqlite:///{project}/.flowy/metadata.db",
                  "--artifact-store", "local",
                  "--artifact-store-option", "path={project}/.flowy/artifacts",
                  "--tracker", "wandb", "--tracker-option", "mode=sometimes")  # fmt: skip
    assert done.returncode == 1
    stderr = " ".join(done.stderr.split())
    assert (
        "Stack 'wb', tracker 'wandb' (from flowy-wandb 0.1.0): field tracker.mode: "
        "Input should be 'online', 'offline' or 'disabled'." in stderr
    ), stderr
    assert not (project / ".flowy" / "stacks" / "wb.toml").exists()
