"""The Stacks page in Chromium: the served stack's health at once, another's on demand."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from test_browser import _shot, browser, flowy_ui_server, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def test_stacks_page_shows_health_and_problems(page: Any, filled: Any, tmp_path: Path) -> None:  # noqa: F811
    project = tmp_path / "project"
    shutil.copytree(filled.project, project)
    (project / ".flowy" / "stacks").mkdir(exist_ok=True)
    (project / ".flowy" / "stacks" / "typo.toml").write_text(
        '[executor]\ntype = "locall"\n[metadata_store]\ntype = "sqlite"\n'
        '[artifact_store]\ntype = "local"\n'
    )
    env = filled.env(FLOWY_PROJECT=str(project), FLOWY_HOME=str(tmp_path / "home"))
    with flowy_ui_server(project, env) as url:
        page.goto(f"{url}/stacks")
        served = page.locator('[data-testid="stack-health-local"]')
        served.wait_for()
        assert served.get_attribute("data-ok") == "true"
        rows = served.locator('[data-testid="stack-component"]')
        kinds = {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())}
        assert {"executor", "metadata_store", "artifact_store"} <= kinds
        assert "answers (" in served.inner_text()  # the stores were probed
        # Another stack is checked only when asked; its problem is shown, not thrown.
        assert page.locator('[data-testid="stack-health-typo"]').count() == 0
        page.locator('[data-testid="check-stack-typo"]').click()
        typo = page.locator('[data-testid="stack-health-typo"]')
        typo.wait_for()
        assert typo.get_attribute("data-ok") == "false"
        assert "locall" in typo.inner_text()
        _shot(page, tmp_path, "stacks")
