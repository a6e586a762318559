"""Fixtures for flowy-ui's tests: a project filled by real runs, and real servers.

The project is filled once per session by a subprocess that runs real pipelines
(``run_pipeline`` on the local stack: local executor, SQLite, local artifacts)
with its own FLOWY_HOME, so nothing of this process's environment changes.
Servers are real uvicorn servers on 127.0.0.1, on a free port, in a thread
(``serve``) or as the real ``flowy ui`` command in a subprocess (``flowy_env``).
"""

from __future__ import annotations

import contextlib
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

# Test modules share helpers by importing each other (``from test_browser import
# browser, page``); pytest's importlib mode does not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_support import (
    FILL,
    FIRST_PARTY,
    PIPELINES,
    Filled,
    serve,
    settings_for,
)


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    import json

    root = tmp_path_factory.mktemp("ui")
    project, home = root / "project", root / "home"
    (project / ".flowy").mkdir(parents=True)
    home.mkdir()
    (project / "ui_pipelines.py").write_text(PIPELINES)
    script = root / "fill.py"
    script.write_text(FILL)
    env = Filled(project, home, [], "").env()
    done = subprocess.run(
        [sys.executable, str(script), str(project)], cwd=project, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    return Filled(project, home, ids["train"], ids["failed"])


@pytest.fixture(scope="session")
def plugins() -> FlowyPlugins:
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in FIRST_PARTY],
    )


@pytest.fixture(scope="session")
def ui_server(filled: Filled, plugins: FlowyPlugins) -> Any:
    """``ui_server(tmp, **settings)``: a context manager serving the filled project with
    ``settings`` (tokens and audit files in ``tmp``); yields ``(url, app)``."""
    from flowy_ui.app import create_app

    @contextlib.contextmanager
    def start(tmp: Path, **options: Any) -> Iterator[tuple[str, Any]]:
        app = create_app(settings_for(filled, tmp, **options), plugins)
        with serve(app) as url:
            yield url, app

    return start


@pytest.fixture(scope="session")
def open_server(
    filled: Filled, plugins: FlowyPlugins, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A server without tokens (loopback: no auth), shared by the read-only API tests."""
    from flowy_ui.app import create_app

    app = create_app(settings_for(filled, tmp_path_factory.mktemp("open")), plugins)
    with serve(app) as url:
        yield url


@pytest.fixture
def api(open_server: str) -> Iterator[Any]:
    import httpx

    with httpx.Client(base_url=open_server, timeout=30) as client:
        yield client
