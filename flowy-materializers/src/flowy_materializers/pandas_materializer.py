"""pandas DataFrames and Series as Parquet, through pyarrow.

Parquet keeps the index, the dtypes (categoricals with their categories and
order, nullable integers, strings, datetimes with time zones) and is readable
by every data tool. pyarrow's pandas metadata does the round trip; a Series
is stored as a one-column frame and its name is kept in Flowy's metadata.

How the bytes stream (sliced writes, statistics from the written slices,
reads that never hold two copies of the frame) is in
:mod:`flowy_materializers._parquet`. On a store with local files the reader
opens the artifact's own file (:meth:`PandasMaterializer.load_path`; the core
hashes the same file meanwhile); otherwise a forward-only stream is spooled to
a temporary file first, because Parquet must seek (the footer comes last).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.kernel.contracts import Materializer

from flowy_materializers._files import json_safe
from flowy_materializers._parquet import (
    MAX_COLUMNS_DESCRIBED,
    ColumnStats,
    read_parquet,
    read_parquet_path,
    write_parquet,
)

if TYPE_CHECKING:
    import pandas as pd

SERIES_COLUMN = "__flowy_series__"


def _numeric_summary(series: pd.Series) -> tuple[int, dict[str, Any]]:
    """Null count and min/max/mean of a numeric column, without NaN-aware copies when clean."""
    import numpy as np

    values = series.to_numpy(dtype="float64", na_value=np.nan, copy=False)
    with np.errstate(all="ignore"):
        stats = [values.min(), values.max(), values.mean()] if len(values) else []
        nulls = int(np.count_nonzero(np.isnan(values))) if stats and np.isnan(stats[2]) else 0
        if nulls and nulls < len(values):
            stats = [np.nanmin(values), np.nanmax(values), np.nanmean(values)]
    if not stats or nulls == len(values):
        return nulls, {}
    named = zip(("min", "max", "mean"), stats, strict=True)
    return nulls, {k: json_safe(float(v)) for k, v in named}


def frame_metadata(
    df: pd.DataFrame, numeric: Mapping[int, ColumnStats] | None = None
) -> dict[str, Any]:
    """Rows, columns, dtypes, null counts and a per-column summary (numeric stats).

    ``numeric`` holds statistics :func:`write_parquet` already gathered, by
    column position; other numeric columns are summarized here.
    """
    numeric = numeric or {}
    columns = list(df.columns)
    shown = columns[:MAX_COLUMNS_DESCRIBED]
    summary: dict[str, Any] = {}
    for position, col in enumerate(shown):
        series = df.iloc[:, position]
        dtype = series.dtype
        info: dict[str, Any] = {"dtype": str(dtype)}
        if getattr(dtype, "kind", "") in "iuf" and str(dtype) != "category":
            gathered = numeric.get(position)
            nulls, stats = gathered.summary() if gathered else _numeric_summary(series)
            info.update(nulls=nulls, **stats)
        else:
            info["nulls"] = int(series.isna().sum())
            if str(dtype) == "category":
                info.update(categories=len(series.cat.categories), ordered=bool(series.cat.ordered))
        summary[str(col)] = info
    index = df.index
    return {
        "rows": len(df),
        "columns": [str(c) for c in shown],
        "n_columns": len(columns),
        "dtypes": {str(c): summary[str(c)]["dtype"] for c in shown},
        "null_counts": {str(c): summary[str(c)]["nulls"] for c in shown},
        "summary": summary,
        "index": {"type": type(index).__name__, "names": [json_safe(n) for n in index.names]},
        "columns_truncated": len(columns) > len(shown),
    }


class PandasMaterializer(Materializer):
    """``pandas.DataFrame`` and ``pandas.Series`` as Parquet (index and dtypes round-trip)."""

    name = "pandas"
    version = "1"
    extension = ".parquet"

    def accepts(self, obj: Any) -> bool:
        import pandas as pd

        if isinstance(obj, pd.Series):
            return True
        # Parquet needs unique column labels; duplicates would be silently renamed.
        return bool(obj.columns.is_unique)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        import pandas as pd

        if isinstance(obj, pd.Series):
            frame = obj.to_frame(name=SERIES_COLUMN)
            meta = frame_metadata(frame, write_parquet(frame, file))
            meta.update(kind="series", name=json_safe(obj.name), dtype=str(obj.dtype))
            return meta
        meta = frame_metadata(obj, write_parquet(obj, file))
        meta["kind"] = "frame"
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        return self._unwrap(read_parquet(file), metadata)

    def load_path(self, path: str, metadata: Mapping[str, Any]) -> Any:
        return self._unwrap(read_parquet_path(path), metadata)

    @staticmethod
    def _unwrap(df: pd.DataFrame, metadata: Mapping[str, Any]) -> Any:
        if metadata.get("kind") == "series":
            series = df[SERIES_COLUMN]
            series.name = metadata.get("name")
            return series
        return df


class PandasArrowMaterializer(Materializer):
    """Large numeric ``pandas.DataFrame`` matrices as an Arrow IPC stream.

    Asked before :class:`PandasMaterializer` (a higher priority); it accepts only
    frames whose columns share one integer or float dtype under a RangeIndex and
    that hold at least :data:`~flowy_materializers._arrow_matrix.MIN_BYTES`, where
    Parquet's encoding costs more than the disk (see
    :mod:`flowy_materializers._arrow_matrix`). Every other frame stays Parquet. The
    choice is recorded with each artifact as its materializer, so either reads back.
    """

    name = "pandas_arrow"
    version = "1"
    extension = ".arrows"

    def accepts(self, obj: Any) -> bool:
        from flowy_materializers._arrow_matrix import is_large_matrix

        return is_large_matrix(obj)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        from flowy_materializers._arrow_matrix import write_matrix

        meta = frame_metadata(obj, write_matrix(obj, file))
        index = obj.index
        meta.update(
            kind="frame",
            format="arrow-ipc-stream",
            range_index={
                "start": int(index.start),
                "step": int(index.step),
                "name": json_safe(index.name),
            },
        )
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        from flowy_materializers._arrow_matrix import read_matrix

        return read_matrix(file, metadata)
