"""The predictor hook, the `flowy model` group's plugin subcommands, and small parsers.

A plugin's predictor (registered through ``flowy_register_predictors`` on a fresh
plugin manager, as a plugin would) serves a model type flowy-serve does not know,
on a real uvicorn server; a type nobody registered is a clear error; `flowy model
--help` lists the serving commands, and says what to install when flowy-serve is off.
"""

from __future__ import annotations

import socket
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flowy_serve.plugin
import httpx
import numpy as np
import pytest
from flowy import hookimpl
from flowy.kernel.plugins import create_plugin_manager
from flowy_serve.app import ServerState, create_app
from flowy_serve.cli import parse_size
from flowy_serve.errors import ServeError
from flowy_serve.loading import ModelSpec, build, choose_predictor, parse_spec
from flowy_serve.predictors import Predictor
from serve_support import flowy_env, run_flowy


class Doubler:
    """A model type no built-in predictor knows."""

    def double(self, rows: Any) -> Any:
        return np.asarray(rows) * 2


class DoublerPredictor(Predictor):
    frameworks = ("numpy",)

    def predict(self, inputs: Any, method: str = "predict") -> Any:
        return self.model.double(inputs)

    def infer_schema(self) -> dict[str, Any]:
        return {"kind": "array", "shape": [2], "dtype": "float64"}


def _plugins() -> Any:
    mine = types.ModuleType("doubler_plugin")

    @hookimpl
    def flowy_register_predictors(register: Any) -> None:
        register(
            "doubler",
            f"{__name__}:DoublerPredictor",
            types=[f"{Doubler.__module__}.{Doubler.__qualname__}"],
        )

    mine.flowy_register_predictors = flowy_register_predictors  # type: ignore[attr-defined]
    return create_plugin_manager(
        entrypoints=False, plugins=[("flowy-serve", flowy_serve.plugin), ("doubler", mine)]
    )


@pytest.fixture
def doubler_server() -> Iterator[str]:
    import uvicorn

    served = build(Doubler(), {"name": "doubler", "version": 1}, [], _plugins())
    server = uvicorn.Server(uvicorn.Config(create_app(ServerState(served)), log_level="warning"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.slow
def test_a_plugin_predictor_serves_its_model_type(doubler_server: str) -> None:
    with httpx.Client(base_url=doubler_server, timeout=30) as http:
        answer = http.post("/predict", json={"inputs": [[1, 2], [3, 4]]})
        wrong = http.post("/predict", json={"inputs": [[1, 2, 3]]})
        meta = http.get("/metadata").json()
    assert answer.json() == {"predictions": [[2.0, 4.0], [6.0, 8.0]]}
    assert wrong.status_code == 422 and "(2,), got (3,)" in wrong.json()["error"]
    assert meta["predictor"] == "doubler" and "numpy" in meta["framework"]["versions"]


def test_the_built_in_predictors_are_chosen_by_type() -> None:
    from sklearn.linear_model import LinearRegression

    plugins = create_plugin_manager(
        entrypoints=False, plugins=[("flowy-serve", flowy_serve.plugin)]
    )
    assert choose_predictor(LinearRegression(), plugins)[0] == "sklearn"
    with pytest.raises(ServeError, match=r"No predictor knows how to call a .*Doubler"):
        choose_predictor(Doubler(), plugins)


def test_model_references_and_sizes_parse() -> None:
    assert parse_spec("churn") == ModelSpec("churn", stage="production")
    assert parse_spec("churn@staging") == ModelSpec("churn", stage="staging")
    assert parse_spec("churn:3") == ModelSpec("churn", version=3)
    assert not parse_spec("churn:3").follows_stage
    for bad in ("", "a@b:3", "a:b", "a@"):
        with pytest.raises(ServeError, match="NAME@STAGE"):
            parse_spec(bad)
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_size("2 KiB") == 2048
    assert parse_size("1000") == 1000


def test_flowy_model_lists_the_serving_commands(tmp_path: Path) -> None:
    env = flowy_env(tmp_path / "home")
    shown = run_flowy(tmp_path, env, "model", "--help").stdout
    assert "serve" in shown and "predict" in shown and "package" in shown
    assert "pip install flowy-serve" not in shown
    top = run_flowy(tmp_path, env, "--help").stdout
    assert "model serve" not in top
    helped = run_flowy(tmp_path, env, "model", "serve", "--help").stdout
    assert "--batch-max-rows" in helped and "{env:NAME}" in helped


def test_without_flowy_serve_the_commands_say_what_to_install(tmp_path: Path) -> None:
    env = flowy_env(tmp_path / "home", FLOWY_DISABLE_PLUGINS="flowy-serve")
    shown = run_flowy(tmp_path, env, "model", "--help").stdout
    assert "needs flowy-serve: pip install flowy-serve" in shown
    done = run_flowy(tmp_path, env, "model", "serve", "churn", code=1)
    assert "pip install flowy-serve" in done.stderr
