"""``flowy runs list --filter/--sort``: the web UI's filter language from the real command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PIPELINE = """
import flowy
from flowy import Context, Pipeline, step


@step(cache=False)
def train(alpha: float = 0.1) -> float:
    flowy.log_metric("r2", 0.5 + alpha)
    return alpha


pipeline = Pipeline("fit", [train], Context(alpha=0.1))
"""


def test_runs_list_filters_and_sorts(tmp_path: Path, flowy_env: Any, flowy_runner: Any) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE, encoding="utf-8")
    flowy = flowy_runner(tmp_path, flowy_env(tmp_path / "home"))
    for alpha in ("0.1", "0.3", "0.2"):
        flowy("run", "pipeline.py", "-p", f"alpha={alpha}")

    def listed(*args: str) -> list[float]:
        out = flowy("runs", "list", "--json", *args).stdout
        return [run["params"]["alpha"] for run in json.loads(out)]

    assert listed() == [0.2, 0.3, 0.1]  # newest first
    assert listed("--filter", "metrics.r2>0.65") == [0.2, 0.3]
    assert listed("--filter", "params.alpha:(0.1,0.3)", "--sort", "metrics.r2") == [0.3, 0.1]
    assert listed("--sort", "params.alpha", "--asc", "-n", "2") == [0.1, 0.2]
    assert listed("--filter", "metrics.r2>0.65", "--status", "failed") == []
    bad = flowy("runs", "list", "--filter", "metrics.r2>high", code=None)
    assert bad.returncode != 0
    assert "at character 12" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
