"""The Parquet reader's matrix path: one preallocated block, same frame as pandas' own read.

A plain numeric frame (one dtype, no nulls, RangeIndex) is read a row group at
a time into a single NumPy block; everything else goes through Arrow's
conversion. Both must give exactly what ``pd.read_parquet`` gives, writable.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from flowy_materializers import _parquet
from pandas.testing import assert_frame_equal


def _write(df: pd.DataFrame, path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(_parquet, "SLICE_BYTES", 16 << 10)  # several row groups
    with path.open("wb") as out:
        _parquet.write_parquet(df, out)
    return path


MATRICES = {
    "float64": pd.DataFrame(np.random.default_rng(1).random((20_000, 4)), columns=list("abcd")),
    "int32, int labels, named index": pd.DataFrame(
        np.arange(60_000, dtype=np.int32).reshape(20_000, 3),
        columns=[10, 20, 30],
        index=pd.RangeIndex(5, 40_005, 2, name="row"),
    ),
    "float32, one column": pd.DataFrame({"x": np.linspace(0, 1, 9_999, dtype=np.float32)}),
}


@pytest.mark.parametrize("name", list(MATRICES))
def test_plain_matrices_take_the_block_path_and_match_pandas(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = MATRICES[name]
    path = _write(df, tmp_path / "m.parquet", monkeypatch)
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    assert _parquet._matrix_layout(pq.ParquetFile(path)) is not None
    back = _parquet.read_parquet_path(str(path))
    assert_frame_equal(back, df)
    assert_frame_equal(back, pd.read_parquet(path))
    assert back._mgr.nblocks == 1  # one block, as a frame built from a matrix has
    back.iloc[0, 0] = 7  # writable: a step may change the frame it was given
    assert back.iloc[0, 0] == 7
    # The same bytes through a forward-only stream (spooled) read the same frame.
    assert_frame_equal(_parquet.read_parquet(io.BytesIO(path.read_bytes())), df)


OTHERS = {
    "a NaN": pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 3.0]}),
    "mixed dtypes": pd.DataFrame({"a": [1, 2, 3], "b": [1.0, 2.0, 3.0]}),
    "nullable Int64": pd.DataFrame({"a": pd.array([1, 2, 3], dtype="Int64")}),
    "a labelled index": pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"]),
    "strings": pd.DataFrame({"a": ["x", "y", "z"]}),
}


@pytest.mark.parametrize("name", list(OTHERS))
def test_other_frames_take_arrows_conversion_and_match_pandas(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = OTHERS[name]
    path = _write(df, tmp_path / "o.parquet", monkeypatch)
    assert _parquet._matrix_layout(pq.ParquetFile(path)) is None
    back = _parquet.read_parquet_path(str(path))
    assert_frame_equal(back, df)
