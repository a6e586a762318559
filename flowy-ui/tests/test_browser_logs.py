"""A running step's logs stream into the run page (Chromium, a real ``flowy ui``, a real run).

The step prints a line and then holds on a gate file; the test opens the step's
logs in the page and creates the gate only once the printed line is shown there,
marked "streaming", without a reload. After the gate the same panel shows the
step's full, recorded log. Nothing waits on a duration. Screenshots are kept
as test_browser.py keeps them (its ``_shot``: ``build/ui-screenshots/``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_browser import _shot, browser, flowy_ui_server, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

PRINTING_PIPELINE = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    GATE = os.environ.get("GATE", "")


    @step(cache=False)
    def talk() -> int:
        print("first line, printed while the step runs", flush=True)
        deadline = time.monotonic() + 120
        while GATE and not os.path.exists(GATE) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("last line, printed as it ends")
        return 1


    printing = Pipeline("printing", [talk])
    """
)


def test_a_running_steps_output_streams_into_its_logs_panel(
    page: Any,  # noqa: F811 - the fixture imported above
    filled: Any,
    tmp_path: Path,
) -> None:
    project = tmp_path / "printing"
    (project / ".flowy").mkdir(parents=True)
    (project / "printing_pipeline.py").write_text(PRINTING_PIPELINE)
    gate = tmp_path / "gate"
    env = filled.env(FLOWY_PROJECT=str(project), FLOWY_HOME=str(tmp_path / "home"))
    with flowy_ui_server(project, env) as ui_url:
        page.goto(ui_url + "/runs?pipeline=printing")
        page.locator('[data-testid="runs-table"]').wait_for()
        run = subprocess.Popen(
            [sys.executable, "-m", "flowy_cli.main", "run", "printing_pipeline.py"],
            cwd=project, env={**env, "GATE": str(gate)}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            row = page.locator('[data-testid="run-row"][data-status="running"]')
            row.wait_for()
            run_id = row.get_attribute("data-run-id")
            row.locator("a").first.click()
            node = page.locator(
                '[data-testid="dag-node"][data-node-id="talk"][data-status="running"]'
            )
            node.wait_for()
            node.click()
            panel = page.locator('[data-testid="logs-panel"][data-step="talk"]')
            panel.wait_for()
            # The line the step printed shows while it still runs, marked as streaming.
            panel.locator(
                '[data-testid="logs-text"][data-live="true"]', has_text="first line"
            ).wait_for()
            panel.locator('[data-testid="logs-streaming"]').wait_for()
            assert "last line" not in panel.locator('[data-testid="logs-text"]').inner_text()
            _shot(page, tmp_path, "logs-streaming")
            gate.touch()  # only now may the step end
            # Its full, recorded log replaces the tail, and the marker goes.
            panel.locator(
                '[data-testid="logs-text"][data-live="false"]', has_text="last line"
            ).wait_for()
            assert "first line" in panel.locator('[data-testid="logs-text"]').inner_text()
            panel.locator('[data-testid="logs-streaming"]').wait_for(state="detached")
            assert f"/runs/{run_id}?step=talk" in page.url  # the same page, not reloaded by us
            _shot(page, tmp_path, "logs-final")
        finally:
            gate.touch()
            out, _ = run.communicate(timeout=120)
            # Leave the page before this test's server stops: its live view would otherwise
            # poll a closed port, which the fixture rightly reports as console errors.
            page.goto("about:blank")
        assert run.returncode == 0, out
