"""A run with a map in Chromium: the mapped step is one DAG node counting its elements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_browser import _shot, browser, flowy_ui_server, page  # noqa: F401 - fixtures
from test_map_dag import MAPPED
from ui_support import Filled

pytestmark = pytest.mark.slow


def test_a_mapped_step_is_one_node_with_its_elements_counted(page: Any, tmp_path: Path) -> None:  # noqa: F811
    project, home = tmp_path / "project", tmp_path / "home"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(MAPPED)
    env = Filled(project, home, [], "").env()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("flowy")), "run", "p.py"], cwd=project, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split("Details: flowy runs show ")[1].split()[0]
    with flowy_ui_server(project, env) as url:
        page.goto(f"{url}/runs/{run_id}")
        root = page.locator('[data-testid="dag-node"][data-node-id="root"]')
        root.wait_for()
        assert root.get_attribute("data-elements") == "3/4"
        assert "elements 3/4 passed" in (root.get_attribute("aria-label") or "")
        ids = page.locator('[data-testid="dag-node"]').evaluate_all(
            "nodes => nodes.map(n => n.getAttribute('data-node-id'))"
        )
        assert sorted(ids) == ["double", "numbers", "root", "total"]  # no root[0] ... nodes
        _shot(page, tmp_path, "map-dag")
