"""Asset types: derived facts, split, comparison, safe Markdown, and the write/read round trip."""

from __future__ import annotations

import importlib
import io
from typing import Any

import pytest
from flowy import Artifact, Dataset, FeatureSet, Metrics, Model, Report
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, write_artifact
from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.errors import StepDefinitionError
from flowy.kernel.plugins import create_plugin_manager
from flowy.run.steps import Step, step
from flowy.tracking.assets import ASSET_KEY, rewrap


class MemoryStore(ArtifactStore):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def uri_for(self, key: str) -> str:
        return f"mem://{key}"

    def open_write(self, uri: str) -> Any:
        store = self

        class Writer(io.BytesIO):
            def __exit__(self, *exc: Any) -> None:
                store.files[uri] = self.getvalue()
                super().__exit__(*exc)

        return Writer()

    def open_read(self, uri: str) -> Any:
        return io.BytesIO(self.files[uri])

    def exists(self, uri: str) -> bool:
        return uri in self.files

    def delete(self, uri: str) -> None:
        self.files.pop(uri, None)


@pytest.fixture
def materializers() -> MaterializerRegistry:
    plugins = create_plugin_manager(entrypoints=False)
    return MaterializerRegistry(plugins.registry)


def test_dataset_facts_and_split_records_the_split() -> None:
    data = Dataset(list(range(10)), name="nums", tags="raw", location="file:///nums.json")
    assert data.tags == ["raw"]
    assert data.fields()["rows"] == 10
    train, test = data.split(0.3, seed=1)
    assert len(train.value) == 7 and len(test.value) == 3
    assert sorted(train.value + test.value) == list(range(10))
    assert train.split_info == {
        "part": "train",
        "test_size": 0.3,
        "seed": 1,
        "shuffle": True,
        "source": "nums",
        "rows": 7,
    }
    assert test.name == "nums-test" and "test" in test.tags
    assert data.split(0.3, seed=1)[1].value == test.value  # deterministic
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split(1.5)


def test_dataset_split_of_columns_keeps_rows_aligned() -> None:
    import numpy as np

    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    train, _test = Dataset((X, y)).split(0.2)
    Xt, yt = train.value
    assert Xt.shape == (8, 2) and (Xt[:, 0] // 2 == yt).all()
    assert Dataset((X, y)).fields()["rows"] == 10
    assert Dataset(X).fields()["schema"] == {"0": "int64", "1": "int64"}


def test_model_facts_from_sklearn() -> None:
    import numpy as np
    from sklearn import linear_model as linear

    X = np.random.RandomState(0).rand(30, 4)
    fitted = linear.LogisticRegression().fit(X, (X[:, 0] > 0.5).astype(int))
    facts = Model(fitted, training_dataset="iris").fields()
    assert facts["framework"] == "sklearn" and facts["architecture"] == "LogisticRegression"
    assert facts["parameter_count"] == 5  # 4 coefficients + intercept
    assert facts["input_shape"] == [None, 4] and facts["output_shape"] == [None, 2]
    assert Model({"w": np.zeros((3, 2))}).fields()["parameter_count"] == 6
    assert Model(fitted, parameter_count=7).fields()["parameter_count"] == 7


def test_metrics_compare_and_better() -> None:
    a, b = Metrics({"acc": 0.8, "loss": 0.5}), Metrics({"acc": 0.9})
    assert a.compare(b)["acc"]["delta"] == pytest.approx(0.1)
    assert a.compare(b)["loss"] == {"a": 0.5, "b": None, "delta": None}
    assert b.better_than(a, "acc") and not b.better_than(a, "acc", mode="min")
    with pytest.raises(ValueError):
        a.better_than(b, "acc", mode="best")


def test_featureset_statistics() -> None:
    import numpy as np

    facts = FeatureSet(np.array([[1.0, 2.0], [3.0, 4.0]]), transformations=["scale"]).fields()
    assert facts["statistics"]["1"] == {"min": 2.0, "max": 4.0, "mean": 3.0}
    assert facts["transformations"] == ["scale"]


def test_report_markdown_renders_and_escapes_html() -> None:
    html = Report("# Title\n\n<script>alert(1)</script>\n\n|a|b|\n|-|-|\n|1|2|").to_html()
    assert "<h1>Title</h1>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert Report({"a": 1}, format="json").to_html().startswith("<pre><code>")
    assert Report("<b>x</b>", format="html").to_html() == "<b>x</b>"
    with pytest.raises(ValueError, match="format"):
        Report("x", format="pdf")


def test_write_and_read_round_trip_returns_the_asset(materializers: MaterializerRegistry) -> None:
    store = MemoryStore()
    asset = Dataset([1, 2, 3], name="d", tags=["x", "y"], properties={"owner": "ann"})
    ref = write_artifact(store, "r/s/out", "out", asset, materializers)
    assert ref.type_name == "builtins.list" and ref.materializer == "json"
    assert ref.metadata[ASSET_KEY]["type"] == "dataset"
    assert ref.metadata[ASSET_KEY]["fields"]["rows"] == 3
    loaded = read_artifact(store, ref, materializers)
    assert isinstance(loaded, Dataset)
    assert (loaded.value, loaded.name, loaded.tags, loaded.properties) == (
        [1, 2, 3],
        "d",
        ["x", "y"],
        {"owner": "ann"},
    )
    plain = write_artifact(store, "r/s/plain", "plain", {"a": 1}, materializers)
    assert ASSET_KEY not in plain.metadata
    assert read_artifact(store, plain, materializers) == {"a": 1}


def test_rewrap_unknown_type_is_an_artifact() -> None:
    assert isinstance(rewrap(1, {"type": "from-the-future", "name": "n"}), Artifact)
    assert isinstance(rewrap({"acc": 1.0}, {"type": "metrics"}), Metrics)


def test_register_model_option_is_validated() -> None:
    def fit() -> int:
        return 1

    assert Step(fit, register_model="m").register_model == {"fit": "m"}
    assert Step(fit, outputs=["a", "b"], register_model={"b": "m"}).register_model == {"b": "m"}
    with pytest.raises(StepDefinitionError, match="say which"):
        Step(fit, outputs=["a", "b"], register_model="m")
    with pytest.raises(StepDefinitionError, match="does not have"):
        Step(fit, register_model={"zzz": "m"})
    for bad in ("../m", "/abs", "a b", "x%2F..", ".hidden", "a\x00b", ""):
        with pytest.raises(StepDefinitionError, match="valid model name"):
            step(register_model=bad)(fit)


def test_assets_are_lazy_exports() -> None:
    import flowy

    assert importlib.import_module("flowy.tracking.assets").Model is flowy.Model
