"""Live updates in Chromium: a real ``flowy run`` in another process, watched in the page.

The server is the real ``flowy ui`` over a project of its own, with an editor token
(so the page's WebSocket must authenticate too). Nothing waits on a duration: the held
step finishes only after the page showed it *running* (a gate file the test creates),
and the cancelled run's held step waits until it is cancelled. Pages are never reloaded
by the test: every change reaches them over the live feed. Screenshots are kept in the
test's folder (``screenshots/``).

Set ``FLOWY_UI_STATIC_DIR`` to test a frontend build other than the shipped one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_browser import PATIENCE_MS, SLOW_PIPELINE, _shot, browser, flowy_ui_server  # noqa: F401

pytestmark = pytest.mark.slow


def _start(project: Path, env: dict[str, str], gate: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowy_cli.main", "run", "live_pipeline.py"],
        cwd=project, env={**env, "GATE": str(gate)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _node(page: Any, step: str, status: str) -> Any:
    return page.locator(f'[data-testid="dag-node"][data-node-id="{step}"][data-status="{status}"]')


def test_running_steps_new_runs_and_a_cancel_reach_the_open_page(
    browser: Any,  # noqa: F811
    filled: Any,
    tmp_path: Path,
) -> None:
    project = tmp_path / "live"
    (project / ".flowy").mkdir(parents=True)
    (project / "live_pipeline.py").write_text(SLOW_PIPELINE)
    extra = {"FLOWY_PROJECT": str(project), "FLOWY_HOME": str(tmp_path / "home")}
    if os.environ.get("FLOWY_UI_STATIC_DIR"):  # a private frontend build under test
        extra["FLOWY_UI_STATIC_DIR"] = os.environ["FLOWY_UI_STATIC_DIR"]
    env = filled.env(**extra)
    made = subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "ui", "token", "create", "eddie",
         "--role", "editor"],
        cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    token = next(w for w in made.stdout.split() if len(w) >= 32)
    first_gate, never = tmp_path / "gate", tmp_path / "never"
    runs: list[subprocess.Popen[str]] = []
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with flowy_ui_server(project, env) as url:
        try:
            page.goto(url + "/runs?pipeline=live")
            field = page.locator('[data-testid="token-field"]')
            field.wait_for()  # 401 before the token: the page asks for it
            assert all("401" in e for e in errors), errors
            errors.clear()
            field.fill(token)
            field.press("Enter")
            page.locator('[data-testid="runs-table"]').wait_for()
            page.locator('[data-testid="live-indicator"][data-state="live"]').wait_for()

            # A run started elsewhere appears in the open list, running, without a reload.
            runs.append(_start(project, env, first_gate))
            row = page.locator('[data-testid="run-row"][data-status="running"]')
            row.wait_for()
            first = row.get_attribute("data-run-id")
            row.locator("a").first.click()
            # Its held step is drawn running (recorded when it started), then completed.
            _node(page, "prepare", "completed").wait_for()
            _node(page, "hold", "running").wait_for()
            _shot(page, tmp_path, "live-step-running")
            first_gate.touch()  # only now may the held step finish
            _node(page, "hold", "completed").wait_for()
            page.locator('.run-title [data-status="completed"]').wait_for()
            assert page.url.endswith(f"/runs/{first}")  # the same page, never reloaded
            out, _ = runs[0].communicate(timeout=120)
            assert runs[0].returncode == 0, out

            # Back to the list (in-page navigation); a second run appears there too.
            page.locator(".crumbs a", has_text="Runs").click()
            page.locator(f'[data-testid="run-row"][data-run-id="{first}"]').wait_for()
            runs.append(_start(project, env, never))
            row = page.locator('[data-testid="run-row"][data-status="running"]')
            row.wait_for()
            second = row.get_attribute("data-run-id")
            assert second and second != first
            _shot(page, tmp_path, "live-new-run")
            row.locator("a").first.click()
            _node(page, "hold", "running").wait_for()

            # Cancelled from the API as an editor: the page shows it, no reload.
            with httpx.Client(base_url=url, timeout=60) as api:
                asked = api.post(
                    f"/api/v1/runs/{second}/cancel", headers={"Authorization": f"Bearer {token}"}
                )
            assert asked.status_code == 202, asked.text
            page.locator('.run-title [data-status="cancelled"]').wait_for()
            _node(page, "hold", "cancelled").wait_for()
            assert page.url.endswith(f"/runs/{second}")
            _shot(page, tmp_path, "live-cancelled")
            out, _ = runs[1].communicate(timeout=120)
            assert runs[1].returncode == 130, out  # ended as Ctrl-C ends a run
        finally:
            first_gate.touch()
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.communicate()
            context.close()
    assert errors == [], errors  # no script error and no CSP violation once authenticated


@pytest.mark.parametrize("with_token", [False, True], ids=["eventsource", "fetch-with-token"])
def test_without_websockets_the_page_falls_back_to_server_sent_events(
    browser: Any,  # noqa: F811
    filled: Any,
    tmp_path: Path,
    with_token: bool,
) -> None:
    """A proxy that refuses WebSockets: the page listens over SSE instead (EventSource;
    with a token, fetch with the Authorization header, which EventSource cannot send),
    and still shows a new run and its end without a reload."""
    project = tmp_path / "sse"
    (project / ".flowy").mkdir(parents=True)
    (project / "live_pipeline.py").write_text(SLOW_PIPELINE)
    extra = {"FLOWY_PROJECT": str(project), "FLOWY_HOME": str(tmp_path / "home")}
    if os.environ.get("FLOWY_UI_STATIC_DIR"):
        extra["FLOWY_UI_STATIC_DIR"] = os.environ["FLOWY_UI_STATIC_DIR"]
    env = filled.env(**extra)
    gate = tmp_path / "gate"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)
    refused: list[str] = []
    streams: list[str] = []

    def refuse(ws: Any) -> None:  # the handshake "succeeds", then the proxy hangs up
        refused.append(ws.url)
        ws.close(code=1011)

    page.route_web_socket("**/api/v1/live**", refuse)
    page.on("request", lambda r: streams.append(r.url) if "/api/v1/live/events" in r.url else None)
    run = None
    token = None
    if with_token:
        made = subprocess.run(
            [sys.executable, "-m", "flowy_cli.main", "ui", "token", "create", "vera",
             "--role", "viewer"],
            cwd=project, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        token = next(w for w in made.stdout.split() if len(w) >= 32)
    with flowy_ui_server(project, env) as url:
        try:
            page.goto(url + "/runs")
            if token is not None:
                field = page.locator('[data-testid="token-field"]')
                field.wait_for()
                field.fill(token)
                field.press("Enter")
            page.locator('[data-testid="runs-table"]').wait_for()
            page.locator('[data-testid="live-indicator"][data-state="live"]').wait_for()
            assert len(refused) >= 2 and streams, (refused, streams)
            run = _start(project, env, gate)
            row = page.locator('[data-testid="run-row"][data-status="running"]')
            row.wait_for()
            run_id = row.get_attribute("data-run-id")
            gate.touch()
            page.locator(
                f'[data-testid="run-row"][data-run-id="{run_id}"][data-status="completed"]'
            ).wait_for()
            _shot(page, tmp_path, "live-sse-fallback")
            out, _ = run.communicate(timeout=120)
            assert run.returncode == 0, out
        finally:
            gate.touch()
            if run is not None and run.poll() is None:
                run.kill()
                run.communicate()
            context.close()
