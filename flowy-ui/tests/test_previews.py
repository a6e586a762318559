"""Artifact previews over real HTTP, of artifacts real pipelines wrote.

A project of its own (the shared ``filled`` one is counted by other tests): one run
of a pipeline whose steps return a pandas frame, a numpy array with NaN and
infinities, PNG bytes (and the same PNG logged as a file with
``flowy.log_artifact``), a JSON dict, text, a fitted scikit-learn model, an
object only pickle can write (refused on load), and a 3-million-value array for
the time limit. Servers are real uvicorn servers built with the materializers
plugin, with their limits set through :class:`flowy_ui.settings.Settings`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from ui_support import FIRST_PARTY, Filled, serve

PLUGINS = [*FIRST_PARTY, ("flowy-materializers", "flowy_materializers.plugin")]

PIPELINE = textwrap.dedent(
    """
    import math
    import struct
    import tempfile
    import zlib
    from pathlib import Path

    import flowy
    import numpy as np
    import pandas as pd
    from flowy import Pipeline, step
    from sklearn.linear_model import LinearRegression


    def png(width, height):
        def chunk(kind, body):
            crc = zlib.crc32(kind + body) & 0xFFFFFFFF
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

        rows = b"".join(
            b"\\x00" + b"".join(bytes([x * 6 % 256, y * 8 % 256, 128]) for x in range(width))
            for y in range(height)
        )
        header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


    class Opaque:
        def __init__(self):
            self.secret = "only pickle can write me"


    @step(cache=False)
    def table() -> pd.DataFrame:
        return pd.DataFrame({
            "x": [1.0, 2.0, math.nan, 4.0] * 10,
            "n": list(range(40)),
            "name": ["a", "b", "a", None] * 10,
            "when": pd.date_range("2026-01-01", periods=40, freq="D"),
            "inf": [math.inf, 1.0, 2.0, 3.0] * 10,
        })


    @step(cache=False)
    def values() -> np.ndarray:
        base = np.arange(1000, dtype=np.float64).reshape(10, 100)
        base[0, :5] = np.nan
        base[1, 0] = np.inf
        base[1, 1] = -np.inf
        return base


    @step(cache=False)
    def doubled(values: np.ndarray) -> np.ndarray:
        return values * 2


    @step(cache=False)
    def picture() -> bytes:
        data = png(40, 30)
        path = Path(tempfile.mkdtemp()) / "plot.png"
        path.write_bytes(data)
        flowy.log_artifact(path)
        return data


    @step(cache=False)
    def poster() -> bytes:  # a PNG signature and 5 MiB after it: too big to serve as is
        return b"\\x89PNG\\r\\n\\x1a\\n" + bytes(5 << 20)


    @step(cache=False)
    def config() -> dict:
        return {"alpha": 0.5, "layers": [64, 32], "name": "demo", "nested": {"ok": True}}


    @step(cache=False)
    def notes() -> str:
        return "line one\\nline two\\n" + "x" * 100_000


    @step(cache=False)
    def model(table: pd.DataFrame) -> LinearRegression:
        X = np.column_stack([table["n"].to_numpy(), (table["n"] ** 2).to_numpy()])
        return LinearRegression().fit(X, 3 * table["n"].to_numpy() + 1)


    @step(cache=False, allow_pickle=True)
    def opaque() -> Opaque:
        return Opaque()


    @step(cache=False)
    def big() -> np.ndarray:
        return np.random.default_rng(0).normal(size=3_000_000)


    pipeline = Pipeline(
        "previews",
        [table, values, doubled, picture, poster, config, notes, model, opaque, big],
    )
    """
)

FILL = textwrap.dedent(
    f"""
    import importlib, importlib.util, json, sys
    from pathlib import Path

    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.engine import run_pipeline

    project = Path(sys.argv[1])
    path = project / "preview_pipeline.py"
    spec = importlib.util.spec_from_file_location("preview_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(path)
    sys.modules["preview_pipeline"] = module
    spec.loader.exec_module(module)
    plugins = create_plugin_manager(entrypoints=False, plugins=[
        (d, importlib.import_module(m)) for d, m in {PLUGINS!r}
    ])
    result = run_pipeline(module.pipeline, plugins=plugins, project=project)
    assert result.ok, result.steps
    print(json.dumps({{"run": result.run_id}}))
    """
)


@attrs.frozen
class Made:
    """The previews project, its run, and its artifacts by output name."""

    filled: Filled
    run_id: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    root = tmp_path_factory.mktemp("previews")
    project, home = root / "project", root / "home"
    (project / ".flowy").mkdir(parents=True)
    home.mkdir()
    (project / "preview_pipeline.py").write_text(PIPELINE)
    (root / "fill.py").write_text(FILL)
    filled = Filled(project, home, [], "")
    done = subprocess.run(
        [sys.executable, str(root / "fill.py"), str(project)], cwd=project, env=filled.env(),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run"]
    from flowy.tracking import Client

    with Client(stack="local", project=project, plugins=_plugins()) as client:
        ids = {name: ref.artifact_id for name, ref in client.outputs(run_id).items()}
    return Made(filled, run_id, ids)


def _plugins() -> Any:
    from flowy.kernel.plugins import create_plugin_manager

    return create_plugin_manager(
        entrypoints=False, plugins=[(d, importlib.import_module(m)) for d, m in PLUGINS]
    )


@contextlib.contextmanager
def _server(made: Made, tmp: Path, **options: Any) -> Iterator[httpx.Client]:
    from flowy_ui.app import create_app
    from flowy_ui.settings import Settings

    settings = Settings(
        project=made.filled.project, stack="local", tokens_file=tmp / "tokens.json",
        audit_file=tmp / "audit.jsonl", **options,
    )  # fmt: skip
    with (
        serve(create_app(settings, _plugins())) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def api(made: Made, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with _server(made, tmp_path_factory.mktemp("preview-server")) as client:
        yield client


def _preview(api: httpx.Client, artifact_id: str) -> dict[str, Any]:
    got = api.get(f"/api/v1/artifacts/{artifact_id}/preview")
    assert got.status_code == 200, got.text
    # Strict JSON: a NaN or an infinity anywhere would fail here.
    body: dict[str, Any] = json.loads(
        got.text, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON")
    )
    return body


def test_a_frame_shows_its_head_schema_and_statistics(api, made) -> None:
    body = _preview(api, made.ids["table"])
    assert body["kind"] == "frame" and body["rows"] == 40 and body["total_columns"] == 5
    assert body["materializer_distribution"] == "flowy-materializers"
    assert "Parquet" in body["materializer_format"]
    assert body["head_columns"] == ["x", "n", "name", "when", "inf"]
    assert len(body["head"]) == 20 and body["truncated"] is True
    assert body["head"][2][0] is None  # the NaN cell is null
    assert body["head"][0][4] == "Infinity"  # as Flowy's JSON spells it
    assert body["head"][0][3].startswith("2026-01-01")
    columns = {c["name"]: c for c in body["columns"]}
    assert columns["x"]["dtype"] == "float64"
    x = columns["x"]["stats"]
    assert (x["count"], x["nulls"], x["min"], x["max"]) == (30, 10, 1.0, 4.0)
    assert columns["inf"]["stats"]["max"] is None  # infinity is not a JSON number
    assert columns["name"]["stats"]["unique"] == 2 and columns["name"]["stats"]["top"] == "a"
    assert columns["when"]["stats"]["min"].startswith("2026-01-01")


def test_an_array_shows_shape_dtype_statistics_and_a_histogram(api, made) -> None:
    body = _preview(api, made.ids["values"])
    assert body["kind"] == "array" and body["shape"] == [10, 100] and body["dtype"] == "float64"
    stats = body["stats"]
    assert (stats["nan"], stats["inf"], stats["count"]) == (5, 2, 993)
    assert stats["min"] == 5.0 and stats["max"] == 999.0
    assert body["values"][:6] == [None, None, None, None, None, 5.0]
    histogram = body["histogram"]
    assert len(histogram["counts"]) == 30 and len(histogram["edges"]) == 31
    assert sum(histogram["counts"]) == 993 and histogram["sampled"] is False


def test_a_large_array_is_sampled_for_its_histogram(api, made) -> None:
    body = _preview(api, made.ids["big"])
    assert body["kind"] == "array" and body["stats"]["count"] == 3_000_000
    assert body["histogram"]["sampled"] is True and body["histogram"]["values"] == 1_000_000
    assert sum(body["histogram"]["counts"]) == 1_000_000
    assert len(body["values"]) == 20


def test_png_bytes_and_a_logged_png_file_are_images(api, made) -> None:
    logged = next(name for name in made.ids if name.endswith(".png"))
    for name in ("picture", logged):
        body = _preview(api, made.ids[name])
        assert body["kind"] == "image", (name, body)
        assert (body["media_type"], body["width"], body["height"]) == ("image/png", 40, 30)
        got = api.get(body["image_url"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert got.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert got.headers["x-content-type-options"] == "nosniff"


def test_a_large_image_is_shown_only_as_a_thumbnail(api, made) -> None:
    body = _preview(api, made.ids["poster"])
    if importlib.util.find_spec("PIL") is None:  # no Pillow: too large to serve as it is
        assert body["kind"] == "too_large" and "Pillow" in body["message"]
    else:
        assert body["kind"] == "image"
    got = api.get(f"/api/v1/artifacts/{made.ids['poster']}/preview/image")
    assert got.status_code == 404  # not served as is, and not a PNG Pillow can decode


def test_json_and_text_are_shown_and_capped(api, made) -> None:
    body = _preview(api, made.ids["config"])
    assert body["kind"] == "json" and json.loads(body["text"])["layers"] == [64, 32]
    assert body["materializer_distribution"] == "flowy-core"
    notes = _preview(api, made.ids["notes"])
    assert notes["kind"] == "text" and notes["text"].startswith("line one\nline two\n")
    assert notes["truncated"] is True and len(notes["text"].encode()) == 64 << 10
    assert notes["length"] == 100_018


def test_a_model_shows_its_class_and_parameter_count(api, made) -> None:
    body = _preview(api, made.ids["model"])
    assert body["kind"] == "model"
    assert body["class_name"].endswith("LinearRegression") and body["framework"] == "sklearn"
    # The count a Model asset records (flowy.tracking.asset_facts): fitted float arrays,
    # coef_ (2) + intercept_ (1) + singular_ (2).
    assert body["parameter_count"] == 5
    assert body["n_features_in"] == 2 and body["coef_shape"] == [2]
    assert body["params"]["fit_intercept"] is True


def test_a_pickled_object_is_refused_as_unsafe(api, made) -> None:
    body = _preview(api, made.ids["opaque"])
    assert body["kind"] == "unsafe" and "pickle" in body["message"].lower()
    assert "only pickle can write me" not in json.dumps(body)
    image = api.get(f"/api/v1/artifacts/{made.ids['opaque']}/preview/image")
    assert image.status_code == 404 and image.json()["error"]["code"] == "not_found"


def test_non_images_have_no_image_route(api, made) -> None:
    for name in ("table", "config", "notes"):
        got = api.get(f"/api/v1/artifacts/{made.ids[name]}/preview/image")
        assert got.status_code == 404, (name, got.text)
        assert "no image preview" in got.json()["error"]["message"]


def test_an_oversized_artifact_is_not_loaded(made, tmp_path) -> None:
    with _server(made, tmp_path, preview_max_bytes=1000) as small:
        body = _preview(small, made.ids["big"])
        assert body["kind"] == "too_large" and body["limit"] == 1000
        assert body["size"] > 1000 and "download" in body["message"]
        assert _preview(small, made.ids["config"])["kind"] == "json"  # small ones still load
        assert small.get(f"/api/v1/artifacts/{made.ids['picture']}/preview").json()["kind"] in (
            "image", "too_large",
        )  # fmt: skip


def test_a_preview_past_its_time_limit_times_out_and_the_server_goes_on(made, tmp_path) -> None:
    with _server(made, tmp_path, preview_timeout=0, preview_concurrency=1) as slow:
        body = _preview(slow, made.ids["big"])  # 24 MB: never loaded in zero seconds
        assert body["kind"] == "timed_out" and body["timeout"] == 0
        again = _preview(slow, made.ids["big"])  # the one slot may still be busy: same answer
        assert again["kind"] == "timed_out"
        assert slow.get("/api/v1/runs").status_code == 200  # the server is not stuck


def test_unknown_and_traversing_ids_are_404_never_a_file(api, made) -> None:
    secret = made.filled.project.parent / "secret.txt"
    secret.write_text("preview-secret-marker")
    attempts = [
        "0" * 64,
        "..%2F..%2Fsecret.txt",
        "%252e%252e%252fsecret.txt",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        str(secret).replace("/", "%2F"),
        "%2Fetc%2Fpasswd",
        "..",
        "..%00",
    ]
    for route in ("/preview", "/preview/image"):
        for attempt in attempts:
            got = api.get(f"/api/v1/artifacts/{attempt}{route}")
            assert got.status_code in (400, 404, 405, 422), (attempt, route, got.status_code)
            assert "preview-secret-marker" not in got.text and "root:x:0:0" not in got.text


def test_artifact_search_pages_by_cursor_without_repeats(api, made) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"run": made.run_id[:12], "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/artifacts", params=params).json()
        seen += [a["artifact_id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made.ids.values()) and len(seen) == len(set(seen))
    whole = api.get("/api/v1/artifacts", params={"run_id": made.run_id, "limit": 100}).json()
    assert [a["artifact_id"] for a in whole["items"]] == seen  # the same order, page by page
    assert whole["next_cursor"] is None
    named = api.get("/api/v1/artifacts", params={"name": "table"}).json()["items"]
    assert [a["artifact_id"] for a in named] == [made.ids["table"]]
    for bad in ("not-a-cursor", "W10", "WyJ4IiwgMV0"):  # garbage, [], ["x", 1]
        got = api.get("/api/v1/artifacts", params={"cursor": bad})
        assert got.status_code == 400 and "cursor" in got.json()["error"]["message"], bad


def test_timed_out_previews_hold_their_slot_so_they_cannot_pile_up() -> None:
    """Real threads: jobs that never finish in time keep their slots until they end."""
    import threading
    import time

    from flowy_ui.previews import Limits, Previewer, TimedOut

    gate = threading.Event()
    started: list[str] = []

    def stuck() -> str:
        started.append(threading.current_thread().name)
        gate.wait(60)
        return "late"

    previewer = Previewer(Limits(timeout=0.05, concurrency=2))
    for _ in range(2):
        with pytest.raises(TimedOut, match="no preview within"):
            previewer.run(stuck)
    with pytest.raises(TimedOut, match="slot"):  # both slots held: no third thread starts
        previewer.run(stuck)
    deadline = time.monotonic() + 60
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(started) == 2
    gate.set()  # the stuck ones end, and free their slots
    while time.monotonic() < deadline:
        try:
            assert previewer.run(lambda: "fresh") == "fresh"
            break
        except TimedOut:
            time.sleep(0.05)
    else:
        pytest.fail("the slots were never released")
    assert len(started) == 2
