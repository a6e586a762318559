"""Acceptance, registry part: the scikit-learn template run three times, all from the CLI.

Three runs with different ``n_estimators``; the best run found with
``flowy experiment best``; its model registered, promoted, a newer version
promoted over it, then rolled back; the lineage of the model checked against
the template's DAG; the production model loaded by name and stage from Python.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
import sklearn  # noqa: F401 - the template trains a scikit-learn model, stored with skops
import skops  # noqa: F401

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Flowy],
):
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    source = resources.files("flowy_cli.templates").joinpath("sklearn/pipeline.py").read_text()
    (project / "pipeline.py").write_text(source.replace("n_samples=2000", "n_samples=400"))
    env = flowy_env(tmp_path / "home", COLUMNS="200", FLOWY_USER="alice")
    run = flowy_runner(project, env, timeout=300)

    def flowy(*args: str, json_out: bool = False) -> object:
        done = run(*args)
        return json.loads(done.stdout) if json_out else done.stdout

    return project, env, flowy


def test_sklearn_runs_best_register_promote_rollback(cli) -> None:
    project, env, flowy = cli
    for n in (3, 10, 30):
        flowy("run", "pipeline.py", "-p", f"n_estimators={n}")
    runs = flowy("runs", "list", "--json", json_out=True)
    assert len(runs) == 3
    best = flowy(
        "experiment", "best", "sklearn-example", "--metric", "accuracy", "--json", json_out=True
    )
    best_run = best["run"]["run_id"] if "run" in best else best["run_id"]
    others = [r["run_id"] for r in runs if r["run_id"] != best_run]

    def model_of(run_id: str) -> str:
        listed = flowy(
            "artifacts", "list", "--run", run_id, "--name", "train", "--json", json_out=True
        )
        return next(a["artifact_id"] for a in listed if a["role"] == "produced")

    v1 = flowy("model", "register", "forest", model_of(best_run), "--json", json_out=True)
    v2 = flowy("model", "register", "forest", model_of(others[0]), "--json", json_out=True)
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["run_id"] == best_run and v1["created_by"] == "alice"

    flowy("model", "promote", "forest", "1", "--to", "production")
    changes = flowy(
        "model", "promote", "forest", "2", "--to", "production", "--json", json_out=True
    )
    assert [(c["version"], c["to_stage"]) for c in changes] == [(1, "archived"), (2, "production")]
    rolled = flowy("model", "rollback", "forest", "--json", json_out=True)
    assert [(c["version"], c["to_stage"]) for c in rolled] == [(2, "archived"), (1, "production")]
    listed = flowy("model", "list", "--json", json_out=True)
    assert listed[0]["stages"] == {"production": 1} and listed[0]["latest_version"] == 2

    shown = flowy("model", "show", "forest", "--version", "1", "--json", json_out=True)
    assert shown["stage"] == "production" and "accuracy" in shown["metrics"]
    assert [(h["action"], h["to_stage"], h["user"]) for h in shown["history"]][-2:] == [
        ("rollback", "archived", "alice"),
        ("rollback", "production", "alice"),
    ]
    compared = flowy("model", "compare", "forest", "1", "2", "--json", json_out=True)
    assert compared["params_changed"] == ["n_estimators"]
    assert compared["metrics"]["accuracy"]["delta"] is not None
    assert compared["training_data"]["same"]  # generate/split were cached: the same data

    # The model's lineage is the template's DAG: generate -> split -> train -> evaluate.
    graph = flowy("artifacts", "lineage", model_of(best_run), "--json", json_out=True)
    names = {aid: a["name"] for aid, a in graph["artifacts"].items()}
    assert sorted(names[a] for a in graph["upstream"]) == ["generate", "train_set"]
    assert [names[a] for a in graph["downstream"]] == ["evaluate"]
    assert "lineage" in flowy("artifacts", "lineage", "--help")

    code = (
        "from flowy.tracking.client import Client\n"
        "import pandas as pd\n"
        "with Client() as c:\n"
        "    m = c.models.load('forest', stage='production')\n"
        "    x = pd.DataFrame({'x1': [0.1], 'x2': [0.2], 'region': pd.Categorical(['north'])})\n"
        "    print(type(m).__name__, int(m.predict(x)[0]) in (0, 1))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.split() == ["Pipeline", "True"], done.stderr
