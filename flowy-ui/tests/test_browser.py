"""The UI in a real browser: Debian's Chromium driven by Playwright, against a real server.

The server is the real ``flowy ui`` command (a subprocess on a free port) over a project
filled by real runs; a live run is a real ``flowy run`` in another process writing to the
same store. Nothing waits on a duration: a running step holds until the test has *seen*
it running in the page (a file the test creates), so the page must show each state
change while it happens, however slow the machine. Screenshots of each page are kept in
the test's folder (``screenshots/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Seconds any one thing may take to appear in the page (a ceiling, never a measurement).
PATIENCE_MS = 60_000

SLOW_PIPELINE = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    GATE = os.environ["GATE"]


    @step(cache=False)
    def prepare() -> int:
        return 1


    @step(cache=False)
    def hold(prepare: int) -> int:
        # Holds until the test has seen this step running in the browser.
        deadline = time.monotonic() + 120
        while not os.path.exists(GATE):
            if time.monotonic() > deadline:
                raise RuntimeError("the browser never showed this step running")
            time.sleep(0.02)
        return prepare + 1


    live = Pipeline("live", [prepare, hold])
    """
)


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is missing: scripts/install-system-packages.sh installs it")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def flowy_ui_server(cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """The real ``flowy ui --no-browser`` in ``cwd`` on a free port; yields its URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowy_cli.main", "ui", "--no-browser", "--port", str(port)],
        cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
                    if json.load(reply)["status"] == "ok":
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"flowy ui did not start (exit {proc.poll()}):\n{out}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ui_url(filled: Any) -> Iterator[str]:
    """The real ``flowy ui`` serving the filled project (shared: tests only read it)."""
    with flowy_ui_server(filled.project, filled.env()) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert errors == [], errors  # no script error and no CSP violation on any page


#: Where the pages' screenshots are kept as test artifacts (a CI job uploads the folder):
#: FLOWY_UI_SCREENSHOTS, else build/ui-screenshots/ at the repository's root (ignored by git).
SCREENSHOTS = Path(
    os.environ.get("FLOWY_UI_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"
)


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    """Screenshot the whole page into :data:`SCREENSHOTS` as ``<test>-<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    current = os.environ.get("PYTEST_CURRENT_TEST", tmp_path.name)  # "file::test (call)"
    test = current.split("::")[-1].split(" ")[0]
    target = SCREENSHOTS / f"{test}-{name}.png"
    png = page.screenshot(path=str(target), full_page=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_runs_page_lists_the_runs_flowy_run_made(
    page: Any, ui_url: str, filled: Any, tmp_path: Path
) -> None:
    page.goto(ui_url + "/")
    for run_id in [*filled.train, filled.failed]:
        page.locator(f'[data-testid="run-row"][data-run-id="{run_id}"]').wait_for()
    failed = page.locator(f'[data-testid="run-row"][data-run-id="{filled.failed}"]')
    assert failed.get_attribute("data-status") == "failed"
    assert "failing" in failed.inner_text()
    _shot(page, tmp_path, "runs")
    # Filtering by status goes through the URL, so the view can be shared.
    page.goto(ui_url + "/runs?status=failed")
    page.locator(f'[data-testid="run-row"][data-run-id="{filled.failed}"]').wait_for()
    assert page.locator('[data-testid="run-row"]').count() == 1


def test_a_failed_step_shows_its_logs_and_traceback(
    page: Any, ui_url: str, filled: Any, tmp_path: Path
) -> None:
    page.goto(f"{ui_url}/runs/{filled.failed}")
    node = page.locator('[data-testid="dag-node"][data-node-id="boom"]')
    node.wait_for()
    assert node.get_attribute("data-status") == "failed"
    done = page.locator('[data-testid="dag-node"][data-node-id="data"]')
    assert done.get_attribute("data-status") == "completed"
    node.click()
    panel = page.locator('[data-testid="logs-panel"][data-step="boom"]')
    panel.wait_for()
    page.locator('[data-testid="logs-text"]', has_text="about to fail").wait_for()
    page.locator('[data-testid="traceback"]', has_text="boom went the step").wait_for()
    _shot(page, tmp_path, "run-failed")


def test_a_training_run_shows_its_dag_and_metric_charts(
    page: Any, ui_url: str, filled: Any, tmp_path: Path
) -> None:
    run_id = filled.train[-1]
    page.goto(f"{ui_url}/runs/{run_id}")
    for step in ("data", "train", "evaluate"):
        node = page.locator(f'[data-testid="dag-node"][data-node-id="{step}"]')
        node.wait_for()
        assert node.get_attribute("data-status") == "completed"
    assert page.locator('[data-testid="dag-edge"]').count() >= 3  # data->train, data->eval, ...
    page.locator('[data-testid="metric-chart"][data-metric="loss"]').wait_for()
    _shot(page, tmp_path, "run")


def test_an_artifact_page_shows_its_facts_download_and_lineage(
    page: Any, ui_url: str, filled: Any, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{ui_url}/api/v1/runs/{filled.train[0]}") as reply:
        run = json.load(reply)
    model_id = next(s for s in run["steps"] if s["step"] == "train")["outputs"]["train"]
    page.goto(f"{ui_url}/artifacts/{model_id}")
    link = page.locator('[data-testid="artifact-download"]')
    link.wait_for()
    with urllib.request.urlopen(ui_url + link.get_attribute("href")) as reply:
        assert reply.status == 200 and len(reply.read()) > 0
    # The section shows at once (loading); its links come with the lineage query's answer.
    page.locator('[data-testid="lineage-link"]').first.wait_for()
    assert page.locator('[data-testid="lineage-link"]').count() >= 1  # the data it came from
    _shot(page, tmp_path, "artifact")


def test_a_live_run_changes_status_in_the_page_without_a_reload(
    page: Any, filled: Any, tmp_path: Path
) -> None:
    # A project of its own: the filled one is shared by tests that count its runs.
    project = tmp_path / "live"
    (project / ".flowy").mkdir(parents=True)
    (project / "live_pipeline.py").write_text(SLOW_PIPELINE)
    gate = tmp_path / "gate"
    env = filled.env(FLOWY_PROJECT=str(project), FLOWY_HOME=str(tmp_path / "home"))
    with flowy_ui_server(project, env) as ui_url:
        _watch_a_live_run(page, ui_url, project, env, gate, tmp_path)


def _watch_a_live_run(
    page: Any, ui_url: str, project: Path, env: dict[str, str], gate: Path, tmp_path: Path
) -> None:
    page.goto(ui_url + "/runs?pipeline=live")
    page.locator('[data-testid="runs-table"]').wait_for()
    run = subprocess.Popen(
        [sys.executable, "-m", "flowy_cli.main", "run", "live_pipeline.py"],
        cwd=project, env={**env, "GATE": str(gate)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # The new run appears in the open page, running, without a reload.
        row = page.locator('[data-testid="run-row"][data-status="running"]')
        row.wait_for()
        run_id = row.get_attribute("data-run-id")
        row.locator("a").first.click()
        # While the run runs, its settled steps are drawn, and the held one as running
        # (a step is recorded when it starts, see docs/ui.md).
        page.locator(
            '[data-testid="dag-node"][data-node-id="prepare"][data-status="completed"]'
        ).wait_for()
        page.locator(
            '[data-testid="dag-node"][data-node-id="hold"][data-status="running"]'
        ).wait_for()
        _shot(page, tmp_path, "run-live")
        gate.touch()  # only now may the held step finish
        page.locator(
            '[data-testid="dag-node"][data-node-id="hold"][data-status="completed"]'
        ).wait_for()
        assert page.url.endswith(f"/runs/{run_id}")  # the same page, never reloaded by us
    finally:
        gate.touch()
        out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, out


def test_a_token_protected_server_asks_for_the_token_in_the_page(
    browser: Any, filled: Any, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.json"
    env = filled.env(FLOWY_UI_TOKENS=str(tokens), FLOWY_UI_AUDIT=str(tmp_path / "audit.jsonl"))
    made = subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "ui", "token", "create", "alice",
         "--role", "viewer"],
        cwd=filled.project, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    token = next(w for w in made.stdout.split() if len(w) >= 32)
    with flowy_ui_server(filled.project, env) as url:
        context = browser.new_context()
        pg = context.new_page()
        pg.set_default_timeout(PATIENCE_MS)
        pg.goto(url + "/")
        field = pg.locator('[data-testid="token-field"]')
        field.wait_for()  # 401: the page asks for a token instead of showing nothing
        assert pg.locator('[data-testid="run-row"]').count() == 0
        field.fill(token)
        field.press("Enter")
        pg.locator(f'[data-testid="run-row"][data-run-id="{filled.failed}"]').wait_for()
        _shot(pg, tmp_path, "runs-with-token")
        context.close()
