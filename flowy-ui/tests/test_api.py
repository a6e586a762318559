"""Every endpoint's shape against a project filled by real runs, over real HTTP."""

from __future__ import annotations

import json
import math


def test_healthz(api) -> None:
    from flowy import __version__

    body = api.get("/healthz").json()
    assert body["status"] == "ok" and body["version"] == __version__


def test_runs_list_shape(api, filled) -> None:
    body = api.get("/api/v1/runs", params={"limit": 3}).json()
    assert len(body["items"]) == 3 and body["next_cursor"]
    newest = body["items"][0]
    assert newest["run_id"] == filled.failed  # newest first
    assert set(newest) >= {
        "run_id", "pipeline", "status", "started_at", "finished_at", "duration",
        "experiment", "stack", "params", "metrics",
    }  # fmt: skip
    assert newest["status"] == "failed" and newest["pipeline"] == "failing"
    train = body["items"][1]
    assert train["run_id"] == filled.train[-1]
    assert train["experiment"] == "tune" and train["stack"] == "local"
    assert train["params"]["alpha"] == (len(filled.train) - 1) / 10
    assert train["metrics"]["loss"] == 1.0 / filled.loss_points + train["params"]["alpha"]
    assert train["metrics"]["diverged"] == "Infinity"  # strict JSON
    assert train["duration"] > 0


def test_runs_filters(api, filled) -> None:
    failed = api.get("/api/v1/runs", params={"status": "failed"}).json()["items"]
    assert [r["run_id"] for r in failed] == [filled.failed]
    training = api.get("/api/v1/runs", params={"pipeline": "training", "limit": 500}).json()
    assert [r["run_id"] for r in training["items"]] == filled.train[::-1]
    assert training["next_cursor"] is None
    tune = api.get("/api/v1/runs", params={"experiment": "tune", "limit": 5}).json()
    assert [r["run_id"] for r in tune["items"]] == filled.train[::-1][:5]
    none = api.get("/api/v1/runs", params={"experiment": "nothing-here"}).json()
    assert none == {"items": [], "next_cursor": None}


def test_run_detail(api, filled) -> None:
    run_id = filled.train[0]
    body = api.get(f"/api/v1/runs/{run_id[:10]}").json()  # a unique prefix, as the CLI takes
    assert body["run_id"] == run_id
    assert "git" in body and "environment" in body and body["environment"]
    steps = {s["step"]: s for s in body["steps"]}
    assert list(steps) == ["data", "train", "evaluate"]
    assert set(steps["train"]) >= {
        "step", "status", "started_at", "finished_at", "attempts", "error", "error_type",
        "outputs", "inputs",
    }  # fmt: skip
    assert steps["train"]["inputs"]["data"] == steps["data"]["outputs"]["data"]
    assert steps["evaluate"]["inputs"]["train"] == steps["train"]["outputs"]["train"]


def test_dag(api, filled) -> None:
    body = api.get(f"/api/v1/runs/{filled.train[0]}/dag").json()
    assert [n["id"] for n in body["nodes"]] == ["data", "train", "evaluate"]
    assert {n["status"] for n in body["nodes"]} == {"completed"}
    assert sorted(map(tuple, body["edges"])) == [
        ("data", "evaluate"), ("data", "train"), ("train", "evaluate"),
    ]  # fmt: skip


def test_logs_and_traceback(api, filled) -> None:
    ok = api.get(f"/api/v1/runs/{filled.train[0]}/steps/evaluate/logs").json()
    assert "evaluating 3 rows" in ok["logs"] and ok["traceback"] is None
    assert ok["step"] == "evaluate" and ok["run_id"] == filled.train[0]
    bad = api.get(f"/api/v1/runs/{filled.failed}/steps/boom/logs").json()
    assert "about to fail" in bad["logs"]
    assert "boom went the step" in bad["traceback"]
    detail = api.get(f"/api/v1/runs/{filled.failed}").json()
    boom = next(s for s in detail["steps"] if s["step"] == "boom")
    assert boom["status"] == "failed" and boom["error_type"].endswith("ValueError")


def test_metrics_downsampled_keep_extremes(api, filled) -> None:
    run_id = filled.train[0]
    full = api.get(f"/api/v1/runs/{run_id}/metrics", params={"points": 100_000}).json()
    loss = full["series"]["loss"]
    assert len(loss) == filled.loss_points and full["total"]["loss"] == filled.loss_points
    assert full["series"]["diverged"] == [[0, "Infinity"]]
    small = api.get(f"/api/v1/runs/{run_id}/metrics", params={"points": 50}).json()
    reduced = small["series"]["loss"]
    assert len(reduced) <= 50
    values = [v for _, v in loss]
    assert max(v for _, v in reduced) == max(values)
    assert min(v for _, v in reduced) == min(values)
    indexes = [i for i, _ in reduced]
    assert indexes == sorted(indexes)
    default = api.get(f"/api/v1/runs/{run_id}/metrics").json()
    assert len(default["series"]["loss"]) <= 500


def test_metrics_are_strict_json(api, filled) -> None:
    text = api.get(f"/api/v1/runs/{filled.train[0]}/metrics").text
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert "NaN" not in text.replace('"NaN"', "")


def test_artifacts_list_detail_download(api, filled) -> None:
    items = api.get("/api/v1/artifacts", params={"run_id": filled.train[0]}).json()["items"]
    by_name = {a["name"]: a for a in items}
    assert {"data", "train", "evaluate"} <= set(by_name)
    item = by_name["data"]
    assert set(item) >= {
        "artifact_id", "name", "type_name", "size", "checksum", "materializer", "run_id",
        "step", "created_at",
    }  # fmt: skip
    assert item["run_id"] == filled.train[0] and item["step"] == "data"
    detail = api.get(f"/api/v1/artifacts/{item['artifact_id']}").json()
    assert "metadata" in detail and "uri" not in detail
    assert str(filled.project) not in json.dumps(detail)
    got = api.get(f"/api/v1/artifacts/{item['artifact_id']}/download")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/octet-stream"
    assert "attachment" in got.headers["content-disposition"]
    from flowy.artifacts.checksums import checksum_bytes

    assert item["checksum"] == got.headers["x-flowy-checksum"] == checksum_bytes(got.content)
    assert json.loads(got.content) == [0, 1, 2]
    models = api.get("/api/v1/artifacts", params={"type": "model", "limit": 3}).json()["items"]
    assert len(models) == 3 and {m["asset_type"] for m in models} == {"model"}
    named = api.get("/api/v1/artifacts", params={"name": "evaluate"}).json()["items"]
    assert {a["name"] for a in named} == {"evaluate"} and len(named) == len(filled.train)


def test_lineage(api, filled) -> None:
    items = api.get("/api/v1/artifacts", params={"run_id": filled.train[0]}).json()["items"]
    ids = {a["name"]: a["artifact_id"] for a in items}
    up = api.get(f"/api/v1/artifacts/{ids['evaluate']}/lineage", params={"direction": "up"})
    body = up.json()
    assert body["root"] == ids["evaluate"]
    assert {n["artifact_id"] for n in body["nodes"]} == {ids["evaluate"], ids["train"], ids["data"]}
    assert {tuple(e) for e in body["edges"]} >= {
        (ids["data"], ids["train"]), (ids["train"], ids["evaluate"]),
    }  # fmt: skip
    down = api.get(f"/api/v1/artifacts/{ids['data']}/lineage?direction=down&depth=1").json()
    assert {n["artifact_id"] for n in down["nodes"]} == {ids["data"], ids["train"], ids["evaluate"]}
    shallow = api.get(f"/api/v1/artifacts/{ids['evaluate']}/lineage?direction=up&depth=1").json()
    assert ids["evaluate"] in {n["artifact_id"] for n in shallow["nodes"]}


def test_experiments(api, filled) -> None:
    items = api.get("/api/v1/experiments").json()["items"]
    by_name = {e["name"]: e for e in items}
    assert by_name["tune"]["runs"] == len(filled.train)
    assert by_name["failing"]["runs"] == 1
    assert all(isinstance(e["last_run_at"], float) for e in items)


def test_models_read(api, filled) -> None:
    items = api.get("/api/v1/models").json()["items"]
    clf = next(m for m in items if m["name"] == "clf")
    assert clf["latest_version"] == len(filled.train)
    detail = api.get("/api/v1/models/clf").json()
    assert [v["version"] for v in detail["versions"]] == list(range(1, len(filled.train) + 1))
    assert detail["versions"][0]["run_id"] == filled.train[0]
    assert "history" in detail and "stages" in detail


def test_stacks_and_plugins(api) -> None:
    stacks = api.get("/api/v1/stacks").json()
    assert stacks["active"] == "local"
    local = next(s for s in stacks["items"] if s["name"] == "local")
    assert local["active"] and local["components"]["metadata_store"]["type"] == "sqlite"
    plugins = api.get("/api/v1/plugins").json()["items"]
    names = {p["distribution"] for p in plugins}
    assert {"flowy-executor-local", "flowy-store-sqlite"} <= names
    assert all(p["status"] for p in plugins)


def test_errors_are_json_404_naming_the_id(api) -> None:
    for path, named in [
        ("/api/v1/runs/nosuchrun", "nosuchrun"),
        ("/api/v1/runs/nosuchrun/dag", "nosuchrun"),
        ("/api/v1/runs/nosuchrun/metrics", "nosuchrun"),
        ("/api/v1/runs/nosuchrun/steps/x/logs", "nosuchrun"),
        ("/api/v1/artifacts/nosuchartifact", "nosuchartifact"),
        ("/api/v1/artifacts/nosuchartifact/download", "nosuchartifact"),
        ("/api/v1/artifacts/nosuchartifact/lineage", "nosuchartifact"),
        ("/api/v1/models/nosuchmodel", "nosuchmodel"),
        ("/api/v1/nothing", "/api/v1/nothing"),
    ]:
        got = api.get(path)
        assert got.status_code == 404, (path, got.text)
        error = got.json()["error"]
        assert error["code"] == "not_found" and named in error["message"], (path, error)


def test_unknown_step_is_404(api, filled) -> None:
    got = api.get(f"/api/v1/runs/{filled.train[0]}/steps/nosuchstep/logs")
    assert got.status_code == 404 and "nosuchstep" in got.json()["error"]["message"]


def test_bad_input_is_400_not_500(api) -> None:
    for path in [
        "/api/v1/runs?limit=0",
        "/api/v1/runs?limit=501",
        "/api/v1/runs?limit=abc",
        "/api/v1/runs?cursor=not-a-cursor",
        "/api/v1/runs?cursor=WzEsMl0",  # [1,2]: a cursor of the wrong shape
        "/api/v1/artifacts/x/lineage?direction=sideways",
        "/api/v1/runs/x/metrics?points=1",
    ]:
        got = api.get(path)
        assert got.status_code == 400, (path, got.text)
        assert got.json()["error"]["code"] == "bad_request"


def test_security_headers_on_every_response(api) -> None:
    for path in ["/healthz", "/api/v1/runs", "/api/v1/runs/nosuchrun", "/", "/runs/abc"]:
        headers = api.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert "access-control-allow-origin" not in headers


def test_cors_is_off(api) -> None:
    got = api.options(
        "/api/v1/runs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in got.headers


def test_openapi_schema(api) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/runs", "/api/v1/runs/{run_id}", "/api/v1/runs/{run_id}/dag",
        "/api/v1/runs/{run_id}/steps/{step}/logs", "/api/v1/runs/{run_id}/metrics",
        "/api/v1/artifacts", "/api/v1/artifacts/{artifact_id}",
        "/api/v1/artifacts/{artifact_id}/download", "/api/v1/artifacts/{artifact_id}/lineage",
        "/api/v1/experiments", "/api/v1/models", "/api/v1/models/{name}",
        "/api/v1/models/{name}/promote", "/api/v1/models/{name}/rollback",
        "/api/v1/stacks", "/api/v1/plugins", "/api/v1/cache", "/api/v1/audit", "/healthz",
    ]:  # fmt: skip
        assert path in paths, path
    run_page = schema["components"]["schemas"]["RunPage"]
    assert set(run_page["properties"]) == {"items", "next_cursor", "available_columns"}
    assert "/docs" not in paths and api.get("/docs").status_code != 500


def test_frontend_placeholder_or_spa(api) -> None:
    from flowy_ui.frontend import STATIC

    root = api.get("/")
    assert root.status_code == 200 and "text/html" in root.headers["content-type"]
    deep = api.get("/runs/some-run-id")
    assert deep.status_code == 200 and deep.text == root.text
    if not (STATIC / "index.html").is_file():
        assert "nox -s ui_build" in root.text


def test_nan_metric_value_is_a_string(api) -> None:
    items = api.get("/api/v1/runs", params={"pipeline": "training", "limit": 1}).json()["items"]
    assert items[0]["metrics"]["diverged"] == "Infinity"
    assert not math.isnan(items[0]["metrics"]["r2"])


def test_every_route_is_in_docs_ui_md(api) -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "ui.md").read_text()
    for path, methods in api.get("/api/v1/openapi.json").json()["paths"].items():
        documented = path.split("?")[0].replace("{artifact_id}", "{id}")
        for method in methods:
            assert f"{method.upper()} {documented}" in docs, f"{method.upper()} {path}"


def test_cache_stats(api) -> None:
    body = api.get("/api/v1/cache").json()
    assert set(body) == {"entries", "hits", "pipelines"}
    assert all(isinstance(v, int) for v in body["pipelines"].values())
