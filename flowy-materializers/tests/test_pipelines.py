"""Real pipelines on the local stack (SQLite metadata, local artifacts) with real frameworks.

Each output goes through its materializer into the artifact store, the next
step loads it back, and the metadata store records the materializer, its
version and the metadata the materializer described the value with.
"""

from __future__ import annotations

from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack


def recorded(project, plugins, result, output: str) -> Any:
    """The artifact of ``output`` as the metadata store holds it."""
    stack = resolve_stack(None, plugins, project)
    try:
        return stack.metadata_store.get_artifact(result.artifacts[output].artifact_id)
    finally:
        stack.close()


def test_numpy_array_through_a_pipeline(project, plugins):
    import numpy as np

    @step
    def make():
        return np.arange(1000, dtype=np.float64).reshape(100, 10)

    @step
    def total(make):
        return float(make.sum())

    result = run_pipeline(Pipeline("np", [make, total]), plugins=plugins)
    assert result.ok and result["total"] == float(np.arange(1000).sum())
    np.testing.assert_array_equal(result["make"], np.arange(1000.0).reshape(100, 10))
    ref = recorded(project, plugins, result, "make")
    assert ref.materializer == "numpy" and ref.materializer_version == "1"
    assert ref.metadata == {"shape": [100, 10], "dtype": "float64", "min": 0.0, "max": 999.0,
                            "mean": 499.5,
                            "flowy_materializer_distribution": "flowy-materializers"}  # fmt: skip


def test_pandas_frame_through_a_pipeline(project, plugins):
    import pandas as pd

    @step
    def frame():
        return pd.DataFrame(
            {"x": [1.0, 2.0, None], "c": pd.Categorical(["a", "b", "a"])},
            index=pd.Index([10, 20, 30], name="id"),
        )

    @step
    def count(frame):
        return int(frame["x"].notna().sum())

    result = run_pipeline(Pipeline("pd", [frame, count]), plugins=plugins)
    assert result.ok and result["count"] == 2
    pd.testing.assert_frame_equal(result["frame"], frame.fn())
    meta = recorded(project, plugins, result, "frame").metadata
    assert meta["rows"] == 3 and meta["columns"] == ["x", "c"]
    assert meta["dtypes"] == {"x": "float64", "c": "category"}
    assert meta["null_counts"] == {"x": 1, "c": 0}
    assert meta["summary"]["x"]["mean"] == 1.5


def test_sklearn_pipeline_predicts_the_same_after_loading(project, plugins):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.random((100, 4))
    y = (x[:, 0] + x[:, 1] > 1).astype(int)

    @step
    def data():
        return {"x": x.tolist(), "y": y.tolist()}

    @step
    def model(data):
        return make_pipeline(StandardScaler(), LogisticRegression()).fit(data["x"], data["y"])

    @step
    def predictions(model):
        return model.predict_proba(x)

    result = run_pipeline(Pipeline("sk", [data, model, predictions]), plugins=plugins)
    assert result.ok
    expected = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(result["predictions"], expected)
    np.testing.assert_array_equal(result["model"].predict_proba(x), expected)
    meta = recorded(project, plugins, result, "model").metadata
    assert meta["estimator_class"] == "sklearn.pipeline.Pipeline" and meta["fitted"] is True
    assert meta["steps"] == [["standardscaler", "StandardScaler"],
                             ["logisticregression", "LogisticRegression"]]  # fmt: skip
    assert meta["sklearn_version"]


@pytest.mark.slow
def test_torch_model_gives_identical_outputs_after_loading(project, plugins):
    import fm_models
    import torch

    @step
    def train():
        torch.manual_seed(0)
        net = fm_models.TinyNet(4, hidden=5)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x, y = torch.randn(64, 4), torch.randn(64, 1)
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opt.step()
        return net.eval()

    @step
    def outputs(train):
        torch.manual_seed(1)
        with torch.no_grad():
            return train(torch.randn(8, 4))

    result = run_pipeline(Pipeline("torch", [train, outputs]), plugins=plugins)
    assert result.ok
    model = result["train"]
    torch.manual_seed(1)
    with torch.no_grad():
        assert torch.equal(model(torch.randn(8, 4)), result["outputs"])
    meta = recorded(project, plugins, result, "train").metadata
    assert meta["module_class"] == "fm_models:TinyNet" and meta["init_args"] == {
        "n_in": 4,
        "hidden": 5,
    }
    assert meta["parameter_count"] == sum(p.numel() for p in model.parameters())
    assert recorded(project, plugins, result, "outputs").materializer == "torch"


@pytest.mark.slow
def test_keras_model_gives_identical_outputs_after_loading(project, plugins):
    import keras
    import numpy as np

    x = np.random.default_rng(0).random((32, 3)).astype("float32")

    @step
    def train():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                                  keras.layers.Dense(1)])  # fmt: skip
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
        return model

    @step
    def outputs(train):
        return train.predict(x, verbose=0)

    result = run_pipeline(Pipeline("keras", [train, outputs]), plugins=plugins)
    assert result.ok
    np.testing.assert_array_equal(result["train"].predict(x, verbose=0), result["outputs"])
    meta = recorded(project, plugins, result, "train").metadata
    assert meta["n_layers"] == 2 and meta["input_shapes"] == [[None, 3]]
    assert meta["parameter_count"] == 4 * 3 + 4 + 4 + 1


@pytest.mark.slow
def test_tensorflow_tensor_through_a_pipeline(project, plugins):
    import tensorflow as tf

    @step
    def make():
        return tf.constant([[1.0, 2.0], [3.0, 4.0]])

    @step
    def total(make):
        return float(tf.reduce_sum(make))

    result = run_pipeline(Pipeline("tf", [make, total]), plugins=plugins)
    assert result.ok and result["total"] == 10.0
    assert recorded(project, plugins, result, "make").metadata["dtype"] == "float32"


def test_pickle_needs_the_step_opt_in(project, plugins):
    import fm_payloads

    @step
    def refused():
        return fm_payloads.Plain(1)

    failed = run_pipeline(Pipeline("no-pickle", [refused]), plugins=plugins)
    assert failed.status == "failed"
    assert "allow_pickle=True" in (failed.steps["refused"].error or "")

    @step(allow_pickle=True)
    def allowed():
        return fm_payloads.Plain(2)

    result = run_pipeline(Pipeline("pickle", [allowed]), plugins=plugins)
    assert result.ok
    ref = recorded(project, plugins, result, "allowed")
    assert ref.materializer == "pickle" and ref.metadata["unsafe"] is True
