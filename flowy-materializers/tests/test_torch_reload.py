"""A model from `flowy init --template pytorch` loads back (issue #12 item 3; slow: torch).

The template's class lives in the pipeline file, which Flowy imports under an
internal module name. The model must be recorded under the project-relative
module path (``pipeline:Regressor``) and load again, in a fresh process, by
`flowy artifacts show`, ``Client().load`` and ``load_model``. Real `flowy`
subprocesses, a real SQLite store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"

LOAD = """
import sys
from flowy.tracking.client import Client
from flowy.tracking.client import load_model

with Client() as client:
    model = client.load(sys.argv[1])
registered = load_model("regressor", stage=None)
print(type(model).__qualname__, type(registered).__qualname__, model.flowy_init_args)
"""


def test_the_pytorch_template_model_loads_back_in_a_new_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), COLUMNS="200", FLOWY_LOAD_PLUGINS=FIRST_PARTY)

    def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    run(*FLOWY, "init", "proj", "--template", "pytorch", cwd=tmp_path)
    project = tmp_path / "proj"
    run(*FLOWY, "run", "pipeline.py", "--param", "epochs=2", cwd=project)
    listed = json.loads(run(*FLOWY, "artifacts", "list", "--json", cwd=project).stdout)
    model = next(a for a in listed if a["materializer"] == "torch_module")
    assert model["metadata"]["module_class"] == "pipeline:Regressor"

    shown = run(*FLOWY, "artifacts", "show", model["artifact_id"], cwd=project)
    assert "Regressor" in shown.stdout and "flowy_user_" not in shown.stdout + shown.stderr
    as_json = json.loads(
        run(*FLOWY, "artifacts", "show", model["artifact_id"], "--json", cwd=project).stdout
    )
    assert "Regressor(" in json.dumps(as_json)

    run(*FLOWY, "model", "register", "regressor", model["artifact_id"], cwd=project)
    loaded = run(sys.executable, "-c", LOAD, model["artifact_id"], cwd=project).stdout
    assert loaded.split(" ", 2)[:2] == ["Regressor", "Regressor"], loaded
    assert "'n_features': 4" in loaded

    # From another folder, the project named by FLOWY_PROJECT is where the class is found.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["FLOWY_PROJECT"] = str(project)
    assert run(sys.executable, "-c", LOAD, model["artifact_id"], cwd=elsewhere).stdout == loaded
