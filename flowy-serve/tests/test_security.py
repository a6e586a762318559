"""Security of ``flowy model serve``: tokens, other addresses, pickled models refused.

The refusals happen before anything is served: a non-zero exit with a message
that says what to do. A served token is checked on every route but /health.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from serve_support import flowy_env, run_flowy, serving, train_artifact

ROW = {"records": [{"x1": 0.3, "x2": -1.2, "region": "north"}]}


def test_another_address_without_a_token_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".flowy").mkdir()
    env = flowy_env(tmp_path / "home")
    done = run_flowy(tmp_path, env, "model", "serve", "churn", "--host", "0.0.0.0", code=1)
    assert "a token is required" in done.stderr
    assert "--token '{env:FLOWY_SERVE_TOKEN}'" in done.stderr


def test_a_literal_token_or_an_unset_variable_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".flowy").mkdir()
    env = flowy_env(tmp_path / "home")
    literal = run_flowy(tmp_path, env, "model", "serve", "churn", "--token", "s3cret", code=1)
    assert "not the token itself" in literal.stderr and "s3cret" not in literal.stderr
    unset = run_flowy(tmp_path, env, "model", "serve", "m", "--token", "{env:NOPE_X}", code=1)
    assert "NOPE_X, which is not set" in unset.stderr


def test_a_bad_model_reference_and_an_unknown_model_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / ".flowy").mkdir()
    env = flowy_env(tmp_path / "home")
    bad = run_flowy(tmp_path, env, "model", "serve", "a@b:3", code=1)
    assert "NAME@STAGE" in bad.stderr
    size = run_flowy(tmp_path, env, "model", "serve", "m", "--max-body", "lots", code=2)
    assert "is not a size" in size.stderr


@pytest.mark.slow
def test_the_token_is_required_on_every_route_but_health(trained: Any) -> None:
    project, env = trained("sklearn", "churn")
    env = {**env, "SERVE_TOKEN": "a-long-random-token"}
    with serving(project, env, "churn", "--token", "{env:SERVE_TOKEN}") as server:
        with server.client() as http:
            refused = [
                http.post("/predict", json=ROW),
                http.get("/metadata"),
                http.get("/metrics"),
                http.post("/predict", json=ROW, headers={"Authorization": "Bearer wrong"}),
            ]
            health = http.get("/health")
        good = {"Authorization": "Bearer a-long-random-token"}
        with server.client(headers=good) as http:
            allowed = [http.post("/predict", json=ROW), http.get("/metadata")]
    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    assert "Bearer" in refused[0].json()["error"]
    assert health.status_code == 200
    assert [r.status_code for r in allowed] == [200, 200]


PICKLED = '''
from flowy import Pipeline, step


class Doubler:
    """Not a framework model: only pickle can store it."""

    def predict(self, rows):
        return [2 * r[0] for r in rows]


@step(allow_pickle=True)
def train() -> object:
    return Doubler()


pipeline = Pipeline("pickled", steps=[train])
'''


@pytest.mark.slow
def test_a_pickled_model_is_refused_whatever_allow_pickle_says(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(textwrap.dedent(PICKLED))
    env = flowy_env(tmp_path / "home", FLOWY_ALLOW_PICKLE="1")
    run_flowy(project, env, "config", "set", "allow_pickle", "true")
    run_flowy(project, env, "run", "pipeline.py")
    run_flowy(project, env, "model", "register", "doubler", train_artifact(project, env))
    done = run_flowy(project, env, "model", "serve", "doubler:1", "--port", "0", code=1)
    assert "cannot be loaded safely, so it is not served" in done.stderr
    assert "pickle" in done.stderr
    assert "Serving" not in done.stdout
