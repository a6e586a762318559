"""``flowy model serve`` with the scikit-learn template's model, over real HTTP.

One server per module (the model is trained once): JSON records and rows,
``predict_proba``, Arrow IPC and Parquet bodies answered in kind, schema errors
(422 naming the column), an unsupported body (415), /health, /metadata and
/metrics. A second server with a small body limit answers 413.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from serve_support import Server, serving

pytestmark = pytest.mark.slow

ROWS = [
    {"x1": 0.3, "x2": -1.2, "region": "north"},
    {"x1": -2.0, "x2": 1.5, "region": "east"},
    {"x1": 1.1, "x2": 0.0, "region": "south"},
]


@pytest.fixture(scope="module")
def server(trained: Any) -> Iterator[Server]:
    project, env = trained("sklearn", "churn")
    with serving(project, env, "churn") as running:
        yield running


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_json_records_and_rows_predict_the_same(server: Server) -> None:
    with server.client() as http:
        by_records = http.post("/predict", json={"records": ROWS})
        by_rows = http.post("/predict", json={"inputs": [list(r.values()) for r in ROWS]})
    assert by_records.status_code == 200, by_records.text
    assert by_records.headers["x-flowy-model-version"] == "1"
    predictions = by_records.json()["predictions"]
    assert len(predictions) == 3 and set(predictions) <= {0, 1}
    assert by_rows.json()["predictions"] == predictions


def test_predict_proba_gives_a_probability_per_class(server: Server) -> None:
    with server.client() as http:
        answer = http.post("/predict", params={"method": "predict_proba"}, json={"records": ROWS})
        missing = http.post("/predict", params={"method": "transform"}, json={"records": ROWS})
    body = answer.json()
    assert body["classes"] == [0, 1]
    assert all(abs(sum(p) - 1) < 1e-9 for p in body["predictions"])
    assert missing.status_code == 400 and "predict_proba" in missing.json()["error"]


def test_arrow_and_parquet_bodies_are_answered_in_kind(server: Server) -> None:
    frame = pa.table(
        {"x1": [r["x1"] for r in ROWS], "x2": [r["x2"] for r in ROWS],
         "region": [r["region"] for r in ROWS]}
    )  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(frame, sink)
    with server.client() as http:
        expected = http.post("/predict", json={"records": ROWS}).json()["predictions"]
        arrow = http.post(
            "/predict", content=_arrow(frame),
            headers={"Content-Type": "application/vnd.apache.arrow.stream"},
        )  # fmt: skip
        parquet = http.post(
            "/predict", content=sink.getvalue(),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )  # fmt: skip
        as_json = http.post(
            "/predict", content=_arrow(frame),
            headers={"Content-Type": "application/vnd.apache.arrow.stream",
                     "Accept": "application/json"},
        )  # fmt: skip
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(arrow.content).read_all()["prediction"].to_pylist() == expected
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(parquet.content))["prediction"].to_pylist() == expected
    assert as_json.json()["predictions"] == expected


def test_schema_mismatches_are_422_naming_what_is_wrong(server: Server) -> None:
    with server.client() as http:
        missing = http.post("/predict", json={"records": [{"x1": 1.0, "region": "north"}]})
        extra = http.post("/predict", json={"records": [{**ROWS[0], "age": 3}]})
        text = http.post("/predict", json={"records": [{**ROWS[0], "x1": "tall"}]})
        number = http.post("/predict", json={"records": [{**ROWS[0], "region": 7}]})
        width = http.post("/predict", json={"inputs": [[1.0, 2.0]]})
        shape = http.post("/predict", json={"rows": []})
        arrow = http.post(
            "/predict", content=_arrow(pa.table({"x1": [1.0], "x2": [2.0]})),
            headers={"Content-Type": "application/vnd.apache.arrow.stream"},
        )  # fmt: skip
    for answer in (missing, extra, text, number, width, shape, arrow):
        assert answer.status_code == 422, answer.text
    assert "missing column(s) 'x2'" in missing.json()["error"]
    assert "unexpected column(s) 'age'" in extra.json()["error"]
    assert "column 'x1' must be numbers (float64" in text.json()["error"]
    assert "column 'region' must be text (category" in number.json()["error"]
    assert "3 values, one per column (x1, x2, region)" in width.json()["error"]
    assert '"inputs"' in shape.json()["error"]
    assert "missing column(s) 'region'" in arrow.json()["error"]


def test_bad_bodies_are_400_and_415(server: Server) -> None:
    with server.client() as http:
        broken = http.post("/predict", content=b"{no", headers={"Content-Type": "application/json"})
        form = http.post("/predict", content=b"a=1", headers={"Content-Type": "text/csv"})
        not_arrow = http.post(
            "/predict", content=b"nonsense",
            headers={"Content-Type": "application/vnd.apache.arrow.stream"},
        )  # fmt: skip
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
    assert form.status_code == 415 and "text/csv" in form.json()["error"]
    assert not_arrow.status_code == 400 and "not a valid arrow table" in not_arrow.json()["error"]


def test_health_metadata_and_metrics(server: Server) -> None:
    with server.client() as http:
        http.post("/predict", json={"records": ROWS})
        http.post("/predict", json={"records": [{"x1": 1}]})
        health = http.get("/health").json()
        meta = http.get("/metadata").json()
        metrics = http.get("/metrics").text
    assert health == {"status": "ok", "model": "churn", "version": 1}
    assert meta["name"] == "churn" and meta["version"] == 1 and meta["stage"] == "production"
    assert len(meta["training_run"]) == 32 and meta["pipeline"] == "sklearn-example"
    assert meta["lineage"]["training_data"] and "accuracy" in meta["lineage"]["metrics"]
    assert meta["framework"]["model_class"] == "sklearn.pipeline.Pipeline"
    assert {"scikit-learn", "skops"} <= set(meta["framework"]["versions"])
    assert meta["schema"] == {
        "kind": "frame",
        "columns": ["x1", "x2", "region"],
        "dtypes": {"x1": "float64", "x2": "float64", "region": "category"},
    }
    assert meta["methods"] == ["predict", "predict_proba"]
    assert 'flowy_serve_requests_total{route="/predict",status="200"}' in metrics
    assert 'flowy_serve_errors_total{reason="input",route="/predict"}' in metrics
    assert "flowy_serve_request_duration_seconds_bucket" in metrics
    assert 'flowy_serve_model_version{model="churn"} 1.0' in metrics


def test_a_body_over_the_limit_is_413(trained: Any) -> None:
    project, env = trained("sklearn", "churn")
    big = {"records": ROWS * 200}
    with serving(project, env, "churn:1", "--max-body", "2KiB") as server, server.client() as http:
        too_large = http.post("/predict", json=big)
        small = http.post("/predict", json={"records": ROWS[:1]})

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it streams
            yield b'{"records": ['
            for _ in range(300):
                yield b'{"x1": 1.0, "x2": 2.0, "region": "north"},'
            yield b'{"x1": 1.0, "x2": 2.0, "region": "north"}]}'

        streamed = http.post(
            "/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert too_large.status_code == 413 and "2048" in too_large.json()["error"]
    assert streamed.status_code == 413
    assert small.status_code == 200


def test_micro_batching_answers_each_request_as_alone(trained: Any, server: Server) -> None:
    """Concurrent requests share model calls; a bad one gets its own 422, the others 200."""
    from concurrent.futures import ThreadPoolExecutor

    project, env = trained("sklearn", "churn")
    bodies = [{"records": [ROWS[i % 3]]} for i in range(60)]
    bodies[7] = {"records": [{"x1": 1.0, "region": "north"}]}  # no x2
    bodies[30] = {"records": ROWS}  # three rows in one request
    with server.client() as http:
        expected = [http.post("/predict", json=b).json() for b in bodies]
    with (
        serving(project, env, "churn", "--batch-max-rows", "16", "--batch-wait-ms", "5") as batched,
        batched.client() as http,
        ThreadPoolExecutor(8) as pool,
    ):
        answers = list(pool.map(lambda b: http.post("/predict", json=b), bodies))
    assert [a.status_code for a in answers] == [422 if i == 7 else 200 for i in range(60)]
    assert [a.json() for a in answers] == expected
    assert "missing column(s) 'x2'" in answers[7].json()["error"]


def test_several_workers_serve_the_same_answers(trained: Any, server: Server) -> None:
    project, env = trained("sklearn", "churn")
    with server.client() as http:
        expected = http.post("/predict", json={"records": ROWS}).json()
    with serving(project, env, "churn", "--workers", "2") as workers:
        assert "with 2 workers" in "".join(workers.output)
        with workers.client() as http:
            answers = [http.post("/predict", json={"records": ROWS}) for _ in range(10)]
            health = http.get("/health")
    assert all(a.status_code == 200 and a.json() == expected for a in answers)
    assert health.json()["version"] == 1
