"""The `flowy init --template` projects run end to end on the local stack."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flowy.run.engine import run_pipeline
from flowy.run.loader import load_pipeline

TEMPLATES = Path(__file__).resolve().parents[2] / "flowy-cli" / "src" / "flowy_cli" / "templates"


def run_template(name: str, project: Path, plugins, **params):
    shutil.copy(TEMPLATES / name / "pipeline.py", project / "pipeline.py")
    assert (TEMPLATES / name / "README.md").read_text().startswith("# A Flowy project")
    result = run_pipeline(load_pipeline(project / "pipeline.py"), plugins=plugins, params=params)
    assert result.ok, {k: v.error for k, v in result.steps.items()}
    return result


def test_sklearn_template(project, plugins):
    result = run_template("sklearn", project, plugins, n_samples=400, n_estimators=10)
    assert result["evaluate"]["accuracy"] > 0.7
    assert result.artifacts["train"].materializer == "sklearn"
    assert result.artifacts["generate"].materializer == "pandas"


@pytest.mark.slow
def test_pytorch_template(project, plugins):
    result = run_template("pytorch", project, plugins, epochs=20)
    assert result["evaluate"]["mse"] < 1.0
    assert result.artifacts["train"].materializer == "torch_module"
    assert result.artifacts["generate"].materializer == "torch"


@pytest.mark.slow
def test_tensorflow_template(project, plugins):
    result = run_template("tensorflow", project, plugins, epochs=5, n_samples=400)
    assert result["evaluate"]["accuracy"] > 0.7
    assert result.artifacts["train"].materializer == "keras"
    assert result.artifacts["features"].materializer == "tensorflow"
