"""The sklearn template's README shows a sweep; its commands run on a fresh project (issue #14)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import sklearn  # noqa: F401 - the template trains a scikit-learn model
import skops  # noqa: F401 - the template stores its model with skops (installed by nox -s tests)


def _readme_commands(readme: str) -> list[str]:
    """The README's sweep command and the ``experiment best`` that follows it."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if "--sweep" in line or line.startswith("flowy experiment best")]


@pytest.mark.slow
def test_readme_sweep_runs_on_the_generated_project(
    tmp_path: Path, flowy_env: Any, flowy_runner: Any
) -> None:
    env = flowy_env(tmp_path / "home")
    flowy = flowy_runner(tmp_path, env, timeout=300)
    flowy("init", "proj", "--template", "sklearn")
    root = tmp_path / "proj"
    commands = _readme_commands((root / "README.md").read_text())
    assert [c.split()[1] for c in commands] == ["run", "experiment"], commands
    run = flowy_runner(root, {**env, "FLOWY_PROJECT": str(root)}, timeout=300)
    swept = run(*shlex.split(commands[0])[1:])
    values = re.search(r"n_estimators=([\d,]+)", commands[0])
    assert values is not None
    count = len(values.group(1).split(","))
    assert f"{count} of {count} runs completed, experiment sklearn-example" in swept.stdout
    best = run(*shlex.split(commands[1])[1:], "--json")
    data = json.loads(best.stdout)
    assert data["ranked"] == count
    assert data["metric"] == "accuracy"
    assert str(data["params"]["n_estimators"]) in values.group(1).split(",")
    from flowy.tracking.client import Client

    with Client("local", root) as client:
        runs = client.store.list_runs(limit=100)
        generated = sorted(
            s.status for r in runs for s in client.store.get_step_runs(r.run_id)
            if s.step == "generate"
        )  # fmt: skip
    assert generated == ["cached"] * (count - 1) + ["completed"]  # the data is made once
