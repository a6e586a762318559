"""A mapped step's elements fold into its node on the run's DAG (issue 14).

A real run (``flowy run`` in a subprocess) of a pipeline with two chained maps,
one element failing within ``max_failures``, served by a real server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from ui_support import Filled, serve, settings_for

MAPPED = """
from flowy import Pipeline, step

@step
def numbers() -> list:
    return [1, 2, -3, 4]

@step(map="numbers", outputs=["roots"], max_failures=1)
def root(numbers: int) -> float:
    if numbers < 0:
        raise ValueError("negative")
    return numbers ** 0.5

@step(map="roots", outputs=["doubled"])
def double(roots: float) -> float:
    return 2 * roots

@step
def total(doubled: list) -> float:
    return sum(doubled)

pipeline = Pipeline("mapped_dag", [numbers, root, double, total])
"""


def test_a_map_is_one_node_with_its_elements_counted(tmp_path: Path, plugins: Any) -> None:
    import httpx
    from flowy_ui.app import create_app

    project, home = tmp_path / "project", tmp_path / "home"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(MAPPED)
    filled = Filled(project, home, [], "")
    flowy = Path(sys.executable).with_name("flowy")
    done = subprocess.run(
        [str(flowy), "run", "p.py"], cwd=project, env=filled.env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split("Details: flowy runs show ")[1].split()[0]
    app = create_app(settings_for(filled, tmp_path), plugins)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        dag = client.get(f"/api/v1/runs/{run_id}/dag").json()
    nodes = {n["id"]: n for n in dag["nodes"]}
    assert list(nodes) == ["numbers", "root", "double", "total"]
    assert nodes["root"]["elements"] == {"completed": 3, "failed": 1}
    assert nodes["double"]["elements"] == {"completed": 3, "skipped": 1}
    assert nodes["numbers"]["elements"] is None
    assert sorted(map(tuple, dag["edges"])) == [
        ("double", "total"), ("numbers", "root"), ("root", "double"),
    ]  # fmt: skip
