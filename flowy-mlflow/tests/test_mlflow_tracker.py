"""flowy-mlflow against a real MLflow tracking store, read back with MLflow's own client.

Each test runs a real pipeline on a stack whose ``tracker`` is ``mlflow``,
with a SQLite tracking store in a temporary folder (MLflow 3 refuses the
plain-file store unless told otherwise), then asks ``MlflowClient`` what it
holds. Slow: importing MLflow and creating its database take seconds.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flowy.kernel.plugins import create_plugin_manager
from flowy.run.engine import run_pipeline
from mlflow.tracking import MlflowClient

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


pipeline = Pipeline("mlpipe", [prepare, train], experiment="churn")
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
type = "mlflow"
tracking_uri = "sqlite:///{project}/mlflow.db"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".flowy" / "stacks").mkdir(parents=True)
    (root / ".flowy" / "stacks" / "tracked.toml").write_text(STACK)
    (root / "pipe.py").write_text(textwrap.dedent(PIPELINE))
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.chdir(root)
    return root


def _plugins():
    names = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-mlflow", "flowy_mlflow.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in names]
    )


def _load(project: Path):
    from flowy.run.loader import load_pipeline

    return load_pipeline(str(project / "pipe.py"))


def test_a_run_is_mirrored_and_mlflow_reads_it_back(project: Path) -> None:
    result = run_pipeline(_load(project), "tracked", {"lr": 0.25, "rows": 4}, plugins=_plugins())
    assert result.ok

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    experiment = client.get_experiment_by_name("churn")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["flowy.run_id"] == result.run_id
    assert run.data.tags["flowy.pipeline"] == "mlpipe"
    assert run.data.tags["flowy.step.train"] == "completed"
    assert run.data.params["lr"] == "0.25"
    assert run.data.params["rows"] == "4"
    assert run.data.params["optimizer"] == "adam" and run.data.params["layers"] == "3"
    assert run.data.metrics["accuracy"] == pytest.approx(0.75)

    history = client.get_metric_history(run.info.run_id, "loss")
    assert len(history) == 2500
    assert sorted(m.step for m in history) == list(range(2500))
    assert {m.step: m.value for m in history}[9] == pytest.approx(0.1)

    files = {f.path for f in client.list_artifacts(run.info.run_id, "train/files")}
    outputs = {f.path for f in client.list_artifacts(run.info.run_id, "train/outputs")}
    assert files == {"train/files/confusion.csv"}
    assert outputs == {"train/outputs/train.json"}
    local = client.download_artifacts(run.info.run_id, "train/files/confusion.csv", str(project))
    assert Path(local).read_text() == "a,b\n1,2\n"


def test_a_cached_rerun_is_a_second_mlflow_run_marking_cached_steps(project: Path) -> None:
    plugins = _plugins()
    first = run_pipeline(_load(project), "tracked", {"lr": 0.1}, plugins=plugins)
    second = run_pipeline(_load(project), "tracked", {"lr": 0.1}, plugins=plugins)
    assert first.ok and second.ok

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    experiment = client.get_experiment_by_name("churn")
    runs = {r.data.tags["flowy.run_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {first.run_id, second.run_id}
    assert runs[second.run_id].data.tags["flowy.step.train"] == "cached"
    assert runs[second.run_id].info.status == "FINISHED"


def test_the_flowy_command_mirrors_through_the_installed_entry_point(project: Path) -> None:
    flowy = Path(sys.executable).with_name("flowy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(
        FLOWY_HOME=str(project.parent / "home"),
        FLOWY_LOAD_PLUGINS="flowy-executor-local,flowy-store-sqlite,flowy-mlflow",
    )
    done = subprocess.run(
        [str(flowy), "run", "pipe.py", "--stack", "tracked", "--experiment", "cli-exp",
         "-p", "lr=0.4"],
        cwd=project, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr, done.stderr

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    experiment = client.get_experiment_by_name("cli-exp")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["accuracy"] == pytest.approx(0.9)
    assert run.data.tags["flowy.experiment"] == "cli-exp"
