"""Cross-site request forgery, tried for real: a page on another origin, in Chromium.

Prefect's server had CVE-2023-6022: a page on any site could make a visitor's
browser drive the API on localhost, which needed no credentials. Flowy's UI on
loopback needs no token either, so it must refuse every write that a browser
sends on behalf of another origin. The attacking page here is served from another
port of 127.0.0.1 (another origin for the browser) and tries an auto-submitted
form, a ``no-cors`` fetch and a ``text/plain`` beacon against the rollback and
promote routes; the model's stage history must not change.
"""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_browser import CHROMIUM_FLAGS, _chromium, flowy_ui_server

pytestmark = pytest.mark.slow

ATTACK = """<!doctype html>
<html><body>
<form id="f" method="post" action="{ui}/api/v1/models/victim/rollback"
      enctype="text/plain" target="sink">
  <input name='{{"x":"' value='"}}'>
</form>
<iframe name="sink"></iframe>
<script>
  fetch("{ui}/api/v1/models/victim/promote", {{
    method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}},
    body: JSON.stringify({{version: 1, stage: "production"}}),
  }}).catch(() => null).finally(() => {{
    navigator.sendBeacon("{ui}/api/v1/models/victim/rollback", "{{}}");
    document.getElementById("f").submit();
    document.title = "sent";
  }});
</script>
</body></html>
"""


VICTIM = """
from flowy import Context, Model, Pipeline, step


@step(cache=False, register_model="victim")
def train(alpha: float = 0.1):
    return Model({"alpha": alpha})


pipeline = Pipeline("victim", [train], Context(alpha=0.1))
"""


@contextlib.contextmanager
def _attacker(html: str) -> Iterator[str]:
    """A plain HTTP server on another port serving ``html`` at ``/``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_cannot_write_through_the_visitors_browser(
    filled: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    # A project of its own, where production has a version to roll back to: without
    # the origin check the forged rollback below would succeed.
    project = tmp_path / "victim"
    (project / ".flowy").mkdir(parents=True)
    (project / "victim.py").write_text(VICTIM)
    env = filled.env(FLOWY_PROJECT=str(project), FLOWY_HOME=str(tmp_path / "home"))
    for alpha in ("0.1", "0.2"):
        done = subprocess.run(
            [sys.executable, "-m", "flowy_cli.main", "run", "victim.py", "-p", f"alpha={alpha}"],
            cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    with flowy_ui_server(project, env) as ui:
        for version in (1, 2):
            promoted = httpx.post(f"{ui}/api/v1/models/victim/promote", timeout=30,
                                  json={"version": version, "stage": "production"})  # fmt: skip
            assert promoted.status_code == 200, promoted.text
        before = httpx.get(f"{ui}/api/v1/models/victim", timeout=30).json()
        ended: list[str] = []  # each forged request, once the browser is done with it
        with _attacker(ATTACK.format(ui=ui)) as evil, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            try:
                context = browser.new_context()
                page = context.new_page()
                for event in ("requestfinished", "requestfailed"):
                    context.on(
                        event,
                        lambda r: (
                            ended.append(f"{r.resource_type} {r.url}")
                            if r.method == "POST" and r.url.startswith(ui)
                            else None
                        ),
                    )
                page.goto(evil)
                page.wait_for_function("document.title === 'sent'", timeout=60_000)
                # The fetch, the beacon (a "ping") and the form (a "document" in the
                # iframe) are each sent and answered; the browser may then hide the
                # answer from the page (CORP, frame-ancestors), which is no matter here.
                deadline = time.monotonic() + 60
                while len(ended) < 3:
                    assert time.monotonic() < deadline, ended
                    page.wait_for_timeout(100)
                page.screenshot(path=str(tmp_path / "csrf-attempt.png"))
            finally:
                browser.close()
        after = httpx.get(f"{ui}/api/v1/models/victim", timeout=30).json()
    assert sorted(e.split()[0] for e in ended) == ["document", "fetch", "ping"], ended
    assert after["history"] == before["history"]
    assert after["versions"] == before["versions"]


def test_a_cross_site_write_without_an_origin_header_is_refused(api) -> None:
    # Browsers always send Sec-Fetch-Site; one that names another site is refused
    # even when no Origin came with it. Scripts send neither and are not browsers.
    for site in ("cross-site", "same-site"):
        refused = api.post("/api/v1/models/clf/rollback", headers={"Sec-Fetch-Site": site})
        assert refused.status_code == 403, site
        assert refused.json()["error"]["code"] == "cross_origin"
    own = api.post("/api/v1/models/nope/rollback", headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 404  # let through the guard, then: no such model
