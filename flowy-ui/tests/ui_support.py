"""What flowy-ui's tests share besides fixtures: the filled project's pipelines, its
record (:class:`Filled`), a real uvicorn server for an app (:func:`serve`), settings.

A module of its own, not ``conftest``: every distribution's tests folder has a
``conftest.py``, so ``from conftest import ...`` finds whichever one was imported
first when the whole repository's suite runs in one pytest process.
"""

from __future__ import annotations

import contextlib
import os
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

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


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port of 127.0.0.1; yields its URL."""
    import uvicorn
    from flowy_ui.app import MAX_REQUEST_HEAD

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD,  # as `flowy ui` serves
    )
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
