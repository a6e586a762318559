"""pandas DataFrames and Series as Parquet, through pyarrow.

Parquet keeps the index, the dtypes (categoricals with their categories and
order, nullable integers, strings, datetimes with time zones) and is readable
by every data tool. pyarrow's pandas metadata does the round trip; a Series
is stored as a one-column frame and its name is kept in Flowy's metadata.

Writing: the frame is converted and written a slice of rows at a time
(about 32 MiB per slice, one row group each) under a schema computed once
for the whole frame, so writing never holds a second full copy of the data.
The numeric columns' statistics are taken from each slice's Arrow columns
while they are in the CPU cache, and columns whose values are mostly
distinct are written without a dictionary (which Parquet would only abandon
after paying for it).

Reading: Parquet must seek (the footer comes last). On a store with local
files the reader opens the artifact's own file (:meth:`load_path`; the core
hashes the same file meanwhile); otherwise a forward-only stream is spooled
to a temporary file first. The Arrow table is handed to pandas with
``self_destruct`` so Arrow's copy is freed column by column while the frame
is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.contracts import Materializer

from flowy_materializers._files import json_safe, spooled_path

if TYPE_CHECKING:
    import pandas as pd

SLICE_BYTES = 32 << 20
MAX_COLUMNS_DESCRIBED = 200
SERIES_COLUMN = "__flowy_series__"
#: Rows of the first slice that decide which columns are dictionary-encoded.
DICTIONARY_SAMPLE_ROWS = 1 << 16
#: A column whose sample is more than this share distinct values is written plain.
MAX_DICTIONARY_SHARE = 0.5


def _rows_per_slice(df: pd.DataFrame) -> int:
    row_bytes = max(1, int(df.memory_usage(index=True, deep=False).sum()) // max(1, len(df)))
    return max(1024, SLICE_BYTES // row_bytes)


class ColumnStats:
    """Null count, min, max and sum of one numeric column, gathered slice by slice."""

    __slots__ = ("count", "highs", "lows", "nulls", "total")

    def __init__(self) -> None:
        self.nulls = 0
        self.count = 0
        self.total = 0.0
        self.lows: list[float] = []
        self.highs: list[float] = []

    def add(self, column: Any) -> None:
        """Fold in one slice's Arrow column (NaN arrives as null, as pandas counts it)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.nulls += column.null_count
        valid = len(column) - column.null_count
        if not valid:
            return
        extremes = pc.min_max(column)
        self.lows.append(float(extremes["min"].as_py()))
        self.highs.append(float(extremes["max"].as_py()))
        if not pa.types.is_floating(column.type):
            column = column.cast(pa.float64(), safe=False)  # an integer sum could overflow
        self.total += float(pc.sum(column).as_py())
        self.count += valid

    def summary(self) -> tuple[int, dict[str, Any]]:
        if not self.count:
            return self.nulls, {}
        stats = {"min": min(self.lows), "max": max(self.highs), "mean": self.total / self.count}
        return self.nulls, {k: json_safe(v) for k, v in stats.items()}


def _summarizable(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_float32(arrow_type)
        or pa.types.is_float64(arrow_type)
    )


def write_parquet(df: pd.DataFrame, file: BinaryIO) -> dict[int, ColumnStats]:
    """Write ``df`` as Parquet through ``file``, one slice of rows at a time.

    Returns the statistics of its numeric columns (by position, the first
    ``MAX_COLUMNS_DESCRIBED``), computed from each slice's Arrow columns while
    they are still in the CPU cache, instead of another pass over the frame.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(df, preserve_index=None)
    # Data columns come first in the schema, in the frame's order, then the index's.
    numeric = {
        i: ColumnStats()
        for i in range(min(len(df.columns), MAX_COLUMNS_DESCRIBED))
        if _summarizable(schema.field(i).type)
    }
    step = _rows_per_slice(df)
    writer = None
    try:
        for start in range(0, max(len(df), 1), step):
            part = pa.Table.from_pandas(df.iloc[start : start + step], preserve_index=None)
            if not part.schema.equals(schema, check_metadata=False):
                # A slice can infer a narrower type (an all-null object column).
                part = part.cast(schema)
            for i, stats in numeric.items():
                stats.add(part.column(i))
            if writer is None:
                dictionary = _dictionary_columns(part)
                writer = pq.ParquetWriter(
                    file, schema, compression="snappy", use_dictionary=dictionary
                )
            writer.write_table(part)
    finally:
        if writer is not None:
            writer.close()
    return numeric


def _dictionary_columns(sample: Any) -> list[str] | bool:
    """The columns worth dictionary-encoding, judged on the first slice's first rows.

    Parquet writers try a dictionary for every column and fall back to plain
    encoding once it outgrows its page; for a column of mostly distinct values
    (measurements, ids) that attempt costs more than the rest of the write.
    Such columns are written plain from the start; the others (and
    categoricals) keep their dictionary. Frames with nested columns keep
    pyarrow's default.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(pa.types.is_nested(field.type) for field in sample.schema):
        return True
    sample = sample.slice(0, DICTIONARY_SAMPLE_ROWS)
    keep = []
    for field, column in zip(sample.schema, sample.columns, strict=True):
        valid = len(column) - column.null_count
        if not pa.types.is_dictionary(field.type) and valid:
            distinct = pc.count_distinct(column).as_py()
            if distinct > valid * MAX_DICTIONARY_SHARE:
                continue
        keep.append(field.name)
    return keep


def _read_table(source: Any) -> Any:
    """Row group by row group: pyarrow's whole-file read buffers every column chunk at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source, pre_buffer=False, memory_map=False)
    if parquet.num_row_groups <= 1:
        return parquet.read()
    return pa.concat_tables([parquet.read_row_group(i) for i in range(parquet.num_row_groups)])


def frame_from(table: Any) -> pd.DataFrame:
    """The pandas frame of an Arrow table, releasing Arrow's copy column by column."""
    return table.to_pandas(self_destruct=True, split_blocks=True)  # type: ignore[no-any-return]


def read_parquet(file: BinaryIO) -> pd.DataFrame:
    """Read Parquet back into pandas (spooling a forward-only stream to disk first)."""
    if file.seekable():
        return frame_from(_read_table(file))
    with spooled_path(file, ".parquet") as path:
        return frame_from(_read_table(path))


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
        return self._unwrap(frame_from(_read_table(path)), metadata)

    @staticmethod
    def _unwrap(df: pd.DataFrame, metadata: Mapping[str, Any]) -> Any:
        if metadata.get("kind") == "series":
            series = df[SERIES_COLUMN]
            series.name = metadata.get("name")
            return series
        return df
