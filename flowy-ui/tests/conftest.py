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
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

# Test modules share helpers by importing each other (``from test_browser import
# browser, page``); pytest's importlib mode does not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

FIRST_PARTY = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
]
#: Training runs made (more than one page of the pagination tests).
TRAIN_RUNS = 12
#: Points of the ``loss`` series of every training run.
LOSS_POINTS = 1200

PIPELINES = textwrap.dedent(
    f"""
    import math

    import flowy
    from flowy import Context, Model, Pipeline, step


    @step(cache=False)
    def data(rows: int = 3) -> list:
        return list(range(rows))


    @step(cache=False, register_model="clf")
    def train(data: list, alpha: float = 0.1):
        for i in range({LOSS_POINTS}):
            flowy.log_metric("loss", 1.0 / (i + 1) + alpha, step=i)
        flowy.log_metric("diverged", math.inf)
        flowy.log_metric("r2", 0.5 + alpha)
        return Model({{"weights": [alpha] * len(data)}})


    @step(cache=False)
    def evaluate(data: list, train) -> float:
        print("evaluating", len(data), "rows")
        return 1.0


    pipeline = Pipeline(
        "training", [data, train, evaluate], Context(rows=3, alpha=0.1), experiment="tune"
    )


    @step(cache=False)
    def boom(data: list) -> int:
        print("about to fail")
        raise ValueError("boom went the step")


    failing = Pipeline("failing", [data, boom])
    """
)

FILL = textwrap.dedent(
    f"""
    import importlib, importlib.util, json, sys
    from pathlib import Path

    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.engine import run_pipeline

    project = Path(sys.argv[1])
    spec = importlib.util.spec_from_file_location("ui_pipelines", project / "ui_pipelines.py")
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(project / "ui_pipelines.py")
    sys.modules["ui_pipelines"] = module
    spec.loader.exec_module(module)
    plugins = create_plugin_manager(entrypoints=False, plugins=[
        (d, importlib.import_module(m)) for d, m in {FIRST_PARTY!r}
    ])
    ids = []
    for i in range({TRAIN_RUNS}):
        result = run_pipeline(module.pipeline, params={{"alpha": i / 10}}, plugins=plugins,
                              project=project)
        assert result.ok, result.steps
        ids.append(result.run_id)
    failed = run_pipeline(module.failing, plugins=plugins, project=project)
    print(json.dumps({{"train": ids, "failed": failed.run_id}}))
    """
)


@attrs.frozen
class Filled:
    """The filled project: where it is, and the runs in it."""

    project: Path
    home: Path
    train: list[str]
    failed: str
    loss_points: int = LOSS_POINTS

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a ``flowy`` subprocess in this project."""
        # FLOWY_UI_STATIC_DIR passes: a frontend build under test (see docs/ui.md).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FLOWY_") or k == "FLOWY_UI_STATIC_DIR"
        }
        plugins = [name for name, _ in FIRST_PARTY] + ["flowy-materializers", "flowy-ui"]
        env.update(
            FLOWY_HOME=str(self.home),
            FLOWY_PROJECT=str(self.project),
            FLOWY_LOAD_PLUGINS=",".join(plugins),
        )
        env.update(extra)
        return env


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


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port of 127.0.0.1; yields its URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def settings_for(filled: Filled, tmp: Path, **options: Any) -> Any:
    from flowy_ui.settings import Settings

    options.setdefault("tokens_file", tmp / "tokens.json")
    options.setdefault("audit_file", tmp / "audit.jsonl")
    return Settings(project=filled.project, stack="local", **options)


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
