"""Every worked example in docs/operations.md runs, and prints what the page says it prints.

The page's format is in tests/doc_examples.py (and stated at the top of the page). A
webhook receiver runs on 127.0.0.1 beside every section; its address is in the commands'
environment as ``WEBHOOK_URL`` (so a notifier example can send real requests), and what
it received is checked to be well-formed JSON.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.doc_examples import DOCS, run_section, sections

DOC = DOCS / "operations.md"


class _Receiver(BaseHTTPRequestHandler):
    received: list[Any]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_has_an_example_for_every_feature() -> None:
    titles = [title for title, _ in sections(DOC)]
    assert len(titles) >= 1, "docs/operations.md has no runnable example"


@pytest.mark.parametrize("title,body", sections(DOC), ids=[t for t, _ in sections(DOC)])
def test_example_runs_as_the_page_shows(
    title: str,
    body: str,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    webhook: tuple[str, list[Any]],
) -> None:
    url, received = webhook
    # flowy-notifiers too: the notifier examples send to WEBHOOK_URL through its webhook
    with_notifiers = functools.partial(flowy_env, plugins=["flowy-notifiers"])
    run_section(title, body, tmp_path, with_notifiers, flowy_runner, WEBHOOK_URL=url)
    if "WEBHOOK_URL" in body:
        assert received, f"{title}: the example names WEBHOOK_URL but nothing reached it"
