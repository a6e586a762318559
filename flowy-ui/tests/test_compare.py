"""Comparing runs and an experiment's runs over real HTTP, against stores filled by real runs.

The shared filled project has 12 runs of experiment ``tune`` (``alpha`` = i / 10, ``r2`` =
0.5 + alpha, a 1,200-point ``loss`` series each) and one failed run. A project of its own
holds 50 runs of one experiment, to compare them all at once.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

MANY = 50
MANY_POINTS = 300

MANY_PIPELINE = textwrap.dedent(
    f"""
    import flowy
    from flowy import Context, Pipeline, step


    @step(cache=False)
    def fit(seed: int = 0, depth: int = 3) -> int:
        for i in range({MANY_POINTS}):
            flowy.log_metric("score", seed + i / 1000, step=i)
        return seed


    sweep = Pipeline("sweep", [fit], Context(seed=0, depth=3), experiment="sweep")
    """
)

MANY_FILL = textwrap.dedent(
    f"""
    import importlib, importlib.util, json, sys
    from pathlib import Path

    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.engine import run_pipeline

    project = Path(sys.argv[1])
    spec = importlib.util.spec_from_file_location("sweep_pipeline", project / "sweep_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(project / "sweep_pipeline.py")
    sys.modules["sweep_pipeline"] = module
    spec.loader.exec_module(module)
    plugins = create_plugin_manager(entrypoints=False, plugins=[
        ("flowy-executor-local", importlib.import_module("flowy_executor_local.plugin")),
        ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
    ])
    ids = []
    for i in range({MANY}):
        result = run_pipeline(module.sweep, params={{"seed": i}}, plugins=plugins, project=project)
        assert result.ok, result.steps
        ids.append(result.run_id)
    print(json.dumps(ids))
    """
)


@contextlib.contextmanager
def _serve(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port (conftest's ``serve``, which the
    importlib import mode keeps this module from importing)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="compare-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_compare_two_runs_shows_only_differing_params(api: Any, filled: Any) -> None:
    first, last = filled.train[0], filled.train[-1]
    body = api.get("/api/v1/compare", params={"runs": f"{first},{last}", "metric": "r2"}).json()
    assert [r["run_id"] for r in body["runs"]] == [first, last]
    # Only alpha differs (rows=3 is the same in both), each run's value in runs order.
    assert [p["name"] for p in body["params"]] == ["alpha"]
    assert body["params"][0] == {"name": "alpha", "values": [0.0, 1.1], "changed": True}
    assert body["params_total"] > 1
    everything = api.get(
        "/api/v1/compare", params={"runs": f"{first},{last}", "all": "true"}
    ).json()
    assert {p["name"] for p in everything["params"]} > {"alpha"}
    assert len(everything["params"]) == everything["params_total"]
    assert any(not p["changed"] for p in everything["params"])
    # Best by r2 (= 0.5 + alpha): the last run when higher is better, the first when lower.
    assert body["best"] == {"metric": "r2", "mode": "max", "run_id": last, "value": 1.6}
    low = api.get(
        "/api/v1/compare", params={"runs": f"{first},{last}", "metric": "r2", "mode": "min"}
    ).json()
    assert low["best"]["run_id"] == first and low["best"]["value"] == 0.5
    metrics = {m["name"]: m["values"] for m in body["metrics"]}
    assert metrics["r2"] == [0.5, 1.6] and metrics["diverged"] == ["Infinity", "Infinity"]


def test_series_are_overlaid_and_downsampled_keeping_extremes(api: Any, filled: Any) -> None:
    ids = filled.train[:3]
    body = api.get(
        "/api/v1/compare", params={"runs": ",".join(ids), "series": "loss,r2", "points": 100}
    ).json()
    assert set(body["series"]) == {"loss", "r2"} and body["points"] == 100
    for i, run_id in enumerate(ids):
        loss = body["series"]["loss"][run_id]
        assert 2 <= len(loss) <= 100
        assert body["series_total"]["loss"][run_id] == filled.loss_points
        values = [v for _, v in loss]
        alpha = i / 10
        assert max(values) == pytest.approx(1.0 + alpha)  # the first point survives
        assert min(values) == pytest.approx(1.0 / filled.loss_points + alpha)  # and the last
        assert [x for x, _ in loss] == sorted(x for x, _ in loss)
        assert len(body["series"]["r2"][run_id]) == 1
    # No series named: the ranking metric's, else the most widely logged one only.
    by_metric = api.get("/api/v1/compare", params={"runs": ",".join(ids), "metric": "r2"}).json()
    assert list(by_metric["series"]) == ["r2"] and by_metric["best"]["metric"] == "r2"


def test_a_failed_run_is_never_best_and_prefixes_resolve(api: Any, filled: Any) -> None:
    body = api.get(
        "/api/v1/compare",
        params={"runs": f"{filled.failed[:12]},{filled.train[2][:12]}", "metric": "r2"},
    ).json()
    assert [r["run_id"] for r in body["runs"]] == [filled.failed, filled.train[2]]
    assert body["best"]["run_id"] == filled.train[2]
    statuses = [r["status"] for r in body["runs"]]
    assert statuses == ["failed", "completed"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"runs": "only-one"}, "Unknown run ids: 'only-one'"),
        ({"runs": ""}, "runs"),
        ({}, "runs"),
        ({"runs": "nope-1,nope-2"}, "'nope-1', 'nope-2'"),
        ({"runs": "../../etc/passwd,%2e%2e"}, "Unknown run ids"),
        ({"runs": "{a},{a}"}, "at least two different runs; got 1"),
        ({"runs": "{a}"}, "at least two different runs; got 1"),
        ({"runs": "{a},{b}", "metric": "no-such"}, "None of these runs logged a metric 'no-such'"),
        ({"runs": "{a},{b}", "mode": "median"}, "mode"),
        ({"runs": "{a},{b}", "points": "1"}, "points"),
        ({"runs": "{a},{b}", "points": "many"}, "points"),
    ],
)
def test_bad_comparisons_are_400_naming_what_is_wrong(
    api: Any, filled: Any, params: dict[str, str], needle: str
) -> None:
    a, b = filled.train[0], filled.train[1]
    query = {k: v.format(a=a, b=b) for k, v in params.items()}
    reply = api.get("/api/v1/compare", params=query)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "bad_request" and needle in error["message"], error
    if "nope" in needle:
        assert "nope-1" in error["message"] and "nope-2" in error["message"]


def test_an_experiments_runs_with_param_and_metric_columns(api: Any, filled: Any) -> None:
    body = api.get("/api/v1/experiments/tune", params={"limit": 5}).json()
    assert body["name"] == "tune"
    assert [r["run_id"] for r in body["items"]] == filled.train[::-1][:5]
    assert body["param_names"][0] == "alpha" or "alpha" in body["param_names"]
    assert {"loss", "r2", "diverged"} <= set(body["metric_names"])
    assert body["items"][0]["params"]["alpha"] == pytest.approx((len(filled.train) - 1) / 10)
    seen = [r["run_id"] for r in body["items"]]
    cursor = body["next_cursor"]
    while cursor:
        page = api.get("/api/v1/experiments/tune", params={"limit": 5, "cursor": cursor}).json()
        seen += [r["run_id"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert seen == filled.train[::-1]  # every run once, newest first
    done = api.get("/api/v1/experiments/tune", params={"status": "failed"}).json()
    assert done["items"] == [] and done["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/api/v1/experiments/no-such-experiment", 404, "No experiment named 'no-such-experiment'"),
        ("/api/v1/experiments/tune?limit=0", 400, "limit"),
        ("/api/v1/experiments/tune?cursor=garbage", 400, "cursor"),
        ("/api/v1/experiments/%2e%2e%2f%2e%2e%2fetc", 404, "etc"),  # never a file
    ],
)
def test_bad_experiment_requests(api: Any, path: str, status: int, needle: str) -> None:
    reply = api.get(path)
    assert reply.status_code == status, reply.text
    assert needle in reply.json()["error"]["message"]


@pytest.fixture(scope="module")
def many(
    filled: Any, plugins: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    """A server over a project of its own holding ``MANY`` runs of experiment ``sweep``."""
    from flowy_ui.app import create_app
    from flowy_ui.settings import Settings

    root = tmp_path_factory.mktemp("many")
    project, home = root / "project", root / "home"
    (project / ".flowy").mkdir(parents=True)
    home.mkdir()
    (project / "sweep_pipeline.py").write_text(MANY_PIPELINE)
    (root / "fill.py").write_text(MANY_FILL)
    env = type(filled)(project, home, [], "").env()  # conftest's Filled, for its environment
    done = subprocess.run(
        [sys.executable, str(root / "fill.py"), str(project)], cwd=project, env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    settings = Settings(
        project=project, stack="local", tokens_file=root / "tokens.json",
        audit_file=root / "audit.jsonl",
    )  # fmt: skip
    with _serve(create_app(settings, plugins)) as url:
        yield url, ids


def test_fifty_runs_compared_at_once(many: tuple[str, list[str]]) -> None:
    import httpx

    url, ids = many
    assert len(ids) == MANY
    with httpx.Client(base_url=url, timeout=120) as client:
        body = client.get(
            "/api/v1/compare", params={"runs": ",".join(ids), "metric": "score", "points": 50}
        ).json()
        assert [r["run_id"] for r in body["runs"]] == ids
        assert [p["name"] for p in body["params"]] == ["seed"]  # depth is the same everywhere
        assert body["params"][0]["values"] == list(range(MANY))
        assert len(body["series"]["score"]) == MANY
        assert all(len(points) <= 50 for points in body["series"]["score"].values())
        assert body["best"]["run_id"] == ids[-1]  # the highest seed scores highest
        page = client.get("/api/v1/experiments/sweep", params={"limit": 500}).json()
        assert len(page["items"]) == MANY and page["next_cursor"] is None
        assert "seed" in page["param_names"] and page["metric_names"] == ["score"]
