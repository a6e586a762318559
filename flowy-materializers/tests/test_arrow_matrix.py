"""Which frames the Arrow IPC materializer takes, what it records, and that a damaged stream fails.

The round trips themselves are the materializer contract's (test_contracts.py,
TestPandasArrow); here: the choice between Arrow and Parquet through the real
registry, the statistics recorded beside Parquet's, and bad bytes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flowy import Pipeline, step
from flowy.tracking.client import Client
from flowy_materializers import _arrow_matrix
from flowy_materializers.pandas_materializer import PandasArrowMaterializer, PandasMaterializer


def _big(rows: int = 300_000, cols: int = 8, dtype: Any = np.float64) -> pd.DataFrame:
    values = np.random.default_rng(0).random((rows, cols)).astype(dtype)
    return pd.DataFrame(values, columns=[f"c{i}" for i in range(cols)])


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (_big(), True),  # 19 MB of float64: a large plain matrix
        (_big(rows=1_000), False),  # small: stays Parquet
        (_big().astype({"c0": "float32"}), False),  # two dtypes
        (_big().set_index("c0"), False),  # not a RangeIndex
        (_big().rename(columns={"c1": "c0"}), False),  # duplicate labels
        (_big().astype("Float64"), False),  # nullable extension dtype
        (pd.Series(np.zeros(3_000_000)), False),  # a Series stays Parquet
    ],
)
def test_only_large_plain_numeric_frames_are_taken(frame: Any, expected: bool) -> None:
    assert PandasArrowMaterializer().accepts(frame) is expected


def test_a_run_writes_large_matrices_as_arrow_and_small_ones_as_parquet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    @step
    def big() -> pd.DataFrame:
        return _big()

    @step
    def small() -> pd.DataFrame:
        return _big(rows=100)

    @step
    def total(big: pd.DataFrame, small: pd.DataFrame) -> float:
        return float(big.to_numpy().sum() + small.to_numpy().sum())

    run = Pipeline("formats", [big, small, total]).run()
    client = Client()
    refs = {name.split(".")[0]: ref for name, ref in client.outputs(run.run_id).items()}
    assert refs["big"].materializer == "pandas_arrow" and refs["big"].uri.endswith(".arrows")
    assert refs["small"].materializer == "pandas" and refs["small"].uri.endswith(".parquet")
    expected = float(_big().to_numpy().sum() + _big(rows=100).to_numpy().sum())
    assert client.load(refs["total"].artifact_id) == pytest.approx(expected)
    pd.testing.assert_frame_equal(client.load(refs["big"].artifact_id), _big())


def test_statistics_match_the_parquet_materializers() -> None:
    frame = _big(rows=50_000, cols=3)
    frame.iloc[3, 1] = np.nan
    arrow = PandasArrowMaterializer().save(frame, io.BytesIO())
    parquet = PandasMaterializer().save(frame, io.BytesIO())
    for column in frame.columns:
        got, want = arrow["summary"][column], parquet["summary"][column]
        assert got["nulls"] == want["nulls"]
        for stat in ("min", "max", "mean"):
            assert got[stat] == pytest.approx(want[stat], rel=1e-12)
    assert arrow["rows"] == parquet["rows"] == 50_000


def test_truncated_or_foreign_streams_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_arrow_matrix, "SLICE_ROWS", 1_000)
    frame = _big(rows=5_000, cols=2)
    out = io.BytesIO()
    meta = PandasArrowMaterializer().save(frame, out)
    data = out.getvalue()
    with pytest.raises(Exception, match=r"(?i)rows|arrow|invalid|expected|read"):
        PandasArrowMaterializer().load(io.BytesIO(data[: len(data) // 2]), meta)
    with pytest.raises(ValueError, match="more than the"):
        PandasArrowMaterializer().load(io.BytesIO(data), {**meta, "rows": 10})
    with pytest.raises(ValueError, match="5000 rows"):
        PandasArrowMaterializer().load(io.BytesIO(data), {**meta, "rows": 6_000})
