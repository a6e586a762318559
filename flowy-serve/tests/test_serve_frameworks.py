"""``flowy model serve`` with the PyTorch and Keras templates' models, over real HTTP.

Their schema is the trailing shape of a row (a torch module's first Linear layer,
a Keras model's input shape); a row of another width is a 422 naming both shapes.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from serve_support import serving

pytestmark = pytest.mark.slow


def _arrow(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_torch_module_is_served_in_batches_with_its_shape_checked(trained: Any) -> None:
    import torch

    project, env = trained("pytorch", "regressor")
    rows = np.random.default_rng(0).normal(size=(5000, 4)).astype("float32")
    with serving(project, env, "regressor") as server, server.client() as http:
        meta = http.get("/metadata").json()
        answer = http.post("/predict", json={"inputs": rows[:3].tolist()})
        columns = pa.table({f"f{i}": rows[:, i] for i in range(4)})
        batch = http.post(
            "/predict", content=_arrow(columns),
            headers={"Content-Type": "application/vnd.apache.arrow.stream"},
        )  # fmt: skip
        lists = pa.table({"x": pa.FixedSizeListArray.from_arrays(rows[:10].ravel(), 4)})
        as_lists = http.post(
            "/predict", content=_arrow(lists),
            headers={"Content-Type": "application/vnd.apache.arrow.stream"},
        )  # fmt: skip
        narrow = http.post("/predict", json={"inputs": [[1.0, 2.0, 3.0]]})
        flat = http.post("/predict", json={"inputs": [1.0, 2.0, 3.0, 4.0]})
        records = http.post("/predict", json={"records": [{"a": 1}]})
    assert meta["schema"] == {"kind": "array", "shape": [4], "dtype": "float32"}
    assert meta["predictor"] == "torch" and "torch" in meta["framework"]["versions"]
    assert answer.status_code == 200, answer.text
    predictions = np.array(answer.json()["predictions"])
    assert predictions.shape == (3, 1)
    table = pa.ipc.open_stream(batch.content).read_all()
    assert table.num_rows == 5000 and table.column_names == ["prediction_0"]
    np.testing.assert_allclose(table["prediction_0"].to_numpy()[:3], predictions[:, 0], rtol=1e-5)
    assert pa.ipc.open_stream(as_lists.content).read_all().num_rows == 10
    assert narrow.status_code == 422
    assert "each row must have shape (4,), got (3,)" in narrow.json()["error"]
    assert flat.status_code == 422 and "wrap one row as [[...]]" in flat.json()["error"]
    assert records.status_code == 422 and "takes arrays, not records" in records.json()["error"]
    assert torch.__version__  # the framework the model was trained with is installed here


def test_keras_model_is_served_with_its_input_shape(trained: Any) -> None:
    project, env = trained("tensorflow", "blobs")
    with serving(project, env, "blobs") as server, server.client() as http:
        meta = http.get("/metadata").json()
        answer = http.post("/predict", json={"inputs": [[0.0, 0.0], [2.0, 2.0]]})
        wide = http.post("/predict", json={"inputs": [[0.0, 0.0, 1.0]]})
    assert meta["schema"]["kind"] == "array" and meta["schema"]["shape"] == [2]
    assert meta["predictor"] == "keras"
    assert answer.status_code == 200, answer.text
    probabilities = np.array(answer.json()["predictions"])
    assert probabilities.shape == (2, 1)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert wide.status_code == 422 and "(2,), got (3,)" in wide.json()["error"]
