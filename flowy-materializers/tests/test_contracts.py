"""Every materializer, the core JSON one included, against flowy.testing's contract suite."""

from __future__ import annotations

from typing import Any

import pytest
from flowy.testing.materializer import MaterializerContract

PLUGIN = [("flowy-materializers", "flowy_materializers.plugin")]


class TestJson(MaterializerContract):
    @pytest.fixture
    def materializer(self) -> Any:
        from flowy.artifacts.json_materializer import JsonMaterializer

        return JsonMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        return [{"a": 1, "b": [1.5, None]}, (1, "x"), {1, 2}, b"\x00bytes", "text", 3, [1, {2: 3}]]


class TestJsonBesideTheFrameworkPlugin(TestJson):
    """A plain dict still goes to JSON when the torch dict-of-tensors claim is installed."""

    plugins = PLUGIN


class TestNumpy(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.numpy_materializer import NumpyMaterializer

        return NumpyMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import numpy as np

        return [
            np.arange(12, dtype=np.float64).reshape(3, 4),
            np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
            np.arange(20)[::3],
            np.array([True, False]),
            np.array(["a", "bcd"]),
            np.array([np.nan, 1.0, np.inf]),
            np.zeros((0, 3)),
            np.array(7),
            np.array(["2024-01-01"], dtype="datetime64[D]"),
            np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import numpy as np

        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)


class TestPandas(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.pandas_materializer import PandasMaterializer

        return PandasMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame(
            {
                "x": np.arange(4, dtype=np.float32),
                "cat": pd.Categorical(
                    ["a", "b", "a", "b"], categories=["c", "b", "a"], ordered=True
                ),
                "n": pd.array([1, None, 3, 4], dtype="Int64"),
                "s": ["p", None, "r", "s"],
                "t": pd.date_range("2024-01-01", periods=4, tz="Europe/Paris"),
            },
            index=pd.Index(["w", "x", "y", "z"], name="key"),
        )
        multi = pd.DataFrame(
            {"v": [1.0, 2.0]},
            index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"]),
        )
        return [
            frame,
            multi,
            pd.DataFrame(np.random.default_rng(0).random((50_000, 3)), columns=[0, 1, 2]),
            pd.DataFrame({"empty": pd.Series([], dtype="float64")}),
            pd.Series([1.5, 2.5], index=["a", "b"], name="price"),
            pd.Series(pd.Categorical(["u", "v"])),
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import pandas as pd

        if isinstance(expected, pd.Series):
            pd.testing.assert_series_equal(actual, expected)
        else:
            pd.testing.assert_frame_equal(actual, expected)


class TestPandasArrow(MaterializerContract):
    """Large plain numeric frames as an Arrow IPC stream (the threshold lowered to test it)."""

    plugins = PLUGIN

    @pytest.fixture
    def materializer(self, monkeypatch: pytest.MonkeyPatch) -> Any:
        from flowy_materializers import _arrow_matrix
        from flowy_materializers.pandas_materializer import PandasArrowMaterializer

        monkeypatch.setattr(_arrow_matrix, "MIN_BYTES", 1)
        monkeypatch.setattr(_arrow_matrix, "SLICE_ROWS", 1_000)  # several batches
        return PandasArrowMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import numpy as np
        import pandas as pd

        with_nan = pd.DataFrame(
            np.random.default_rng(2).random((5_000, 3)), columns=["a", "b", "c"]
        )
        with_nan.iloc[7, 1] = np.nan
        with_nan.iloc[:, 2] = np.inf
        return [
            pd.DataFrame(np.random.default_rng(0).random((20_000, 4)), columns=list("wxyz")),
            pd.DataFrame(
                np.arange(30_003, dtype=np.int32).reshape(10_001, 3),
                columns=[10, 20, 30],
                index=pd.RangeIndex(5, 20_007, 2, name="row"),
            ),
            pd.DataFrame({"x": np.linspace(0, 1, 999, dtype=np.float32)}),
            with_nan,
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import pandas as pd

        pd.testing.assert_frame_equal(actual, expected)
        assert actual._mgr.nblocks == 1  # one block, filled batch by batch
        actual.iloc[0, 0] = 7  # a step may change the frame it was given
        assert actual.iloc[0, 0] == 7


class TestSklearn(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.sklearn_materializer import SklearnMaterializer

        return SklearnMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import numpy as np
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        rng = np.random.default_rng(0)
        x = rng.random((60, 3))
        y = (x[:, 0] > 0.5).astype(int)
        return [
            make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
            RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
            LogisticRegression(C=0.5),
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import numpy as np

        assert type(actual) is type(expected)
        assert repr(actual.get_params()) == repr(expected.get_params())
        if hasattr(expected, "classes_"):
            x = np.random.default_rng(1).random((10, 3))
            np.testing.assert_array_equal(actual.predict_proba(x), expected.predict_proba(x))


@pytest.mark.slow
class TestTorchTensors(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.torch_materializer import TorchTensorMaterializer

        return TorchTensorMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import torch

        return [
            torch.arange(12, dtype=torch.float32).reshape(3, 4),
            torch.randn(4, 5).t(),
            torch.ones(3, dtype=torch.bfloat16),
            torch.tensor([True, False]),
            torch.nn.Parameter(torch.randn(2)),
            {"weight": torch.randn(2, 2), "bias": torch.zeros(2, dtype=torch.float64)},
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import torch

        if isinstance(expected, dict):
            assert expected.keys() == actual.keys()
            for key in expected:
                self.assert_equal(expected[key], actual[key])
            return
        assert type(actual) is type(expected)
        assert actual.dtype == expected.dtype and actual.requires_grad == expected.requires_grad
        assert torch.equal(actual.detach(), expected.detach())


@pytest.mark.slow
class TestTorchModule(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.torch_materializer import TorchModuleMaterializer

        return TorchModuleMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import fm_models

        return [fm_models.TinyNet(4, hidden=6).eval(), fm_models.ExplicitArgs(3)]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import torch

        assert type(actual) is type(expected) and actual.training == expected.training
        x = torch.randn(5, next(expected.parameters()).shape[1])
        with torch.no_grad():
            assert torch.equal(expected(x), actual(x))


@pytest.mark.slow
class TestTensorflow(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.tensorflow_materializer import TensorflowTensorMaterializer

        return TensorflowTensorMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import tensorflow as tf

        return [
            tf.constant([[1.0, 2.0], [3.0, 4.0]]),
            tf.constant(["ab", "c"]),
            tf.Variable([1, 2, 3], name="counts", trainable=False),
        ]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import numpy as np
        import tensorflow as tf

        assert actual.dtype == expected.dtype
        assert isinstance(actual, tf.Variable) == isinstance(expected, tf.Variable)
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())


@pytest.mark.slow
class TestKeras(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.tensorflow_materializer import KerasMaterializer

        return KerasMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import keras

        inputs = keras.Input((3,))
        functional = keras.Model(inputs, keras.layers.Dense(2)(inputs))
        sequential = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
        )
        return [sequential, functional]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import numpy as np

        x = np.random.default_rng(0).random((4, 3)).astype("float32")
        np.testing.assert_array_equal(expected.predict(x, verbose=0), actual.predict(x, verbose=0))


class TestPickle(MaterializerContract):
    plugins = PLUGIN

    @pytest.fixture
    def materializer(self) -> Any:
        from flowy_materializers.pickle_materializer import PickleMaterializer

        return PickleMaterializer()

    @pytest.fixture
    def samples(self) -> list[Any]:
        import fm_payloads
        import numpy as np

        return [fm_payloads.Plain(3), np.array([{"a": 1}, None], dtype=object)]

    def assert_equal(self, expected: Any, actual: Any) -> None:
        import numpy as np

        if isinstance(expected, np.ndarray):
            assert list(actual) == list(expected)
        else:
            assert actual == expected
