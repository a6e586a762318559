"""Parquet I/O for the pandas materializer: sliced writes, lean reads, writable frames.

Writing: the frame is converted and written a slice of rows at a time
(:data:`SLICE_BYTES` per slice, one row group each) under a schema computed
once for the whole frame, so writing holds the frame plus one slice, never a
second full copy. The numeric columns' statistics are taken from each slice's
Arrow columns while they are in the CPU cache (:class:`ColumnStats`), and
columns whose values are mostly distinct are written without a dictionary,
which Parquet would only abandon after paying for it
(:func:`_dictionary_columns`).

Reading: pyarrow decodes the file through a 64 KiB read buffer (not whole
column chunks at once). A plain numeric matrix (one integer or float dtype,
no nulls, a RangeIndex) is read a row group at a time into one preallocated
NumPy block that becomes the frame (:func:`read_frame`): memory holds the
frame and one row group. Any other frame's Arrow table is handed to pandas with
``self_destruct`` and ``split_blocks``, so Arrow's copy is freed column by
column while the frame is built. Columns pandas received zero-copy are
read-only views of Arrow memory; each is replaced by a writable copy, one at a
time (:func:`frame_from`), so a step may modify the frame it was given.
After a write or a read, memory Arrow's allocator kept is handed back to the
system (``release_unused``), so the next step does not start on top of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from flowy_materializers._files import json_safe, spooled_path

if TYPE_CHECKING:
    import pandas as pd

SLICE_BYTES = 4 << 20
#: Only the first columns are described in the metadata (the rest are counted).
MAX_COLUMNS_DESCRIBED = 200
#: Rows of the first slice that decide which columns are dictionary-encoded.
DICTIONARY_SAMPLE_ROWS = 1 << 16
#: A column whose sample is more than this share distinct values is written plain.
MAX_DICTIONARY_SHARE = 0.5
#: pyarrow reads column chunks through a buffer this large instead of whole (64 KiB
#: measured fastest here, and the lowest peak: ~25 MB less than 1 MiB for 160 MB).
READ_BUFFER = 64 << 10


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

    def add_values(self, values: Any) -> None:
        """Fold in one slice of a plain NumPy column (NaN counted as missing, as pandas does).

        NumPy's reductions run at memory speed; only a slice that holds NaN pays for
        the NaN-aware ones.
        """
        import numpy as np

        if not len(values):
            return
        floating = values.dtype.kind == "f"
        with np.errstate(all="ignore"):
            total = float(values.sum(dtype="float64"))
            low, high = values.min(), values.max()
            missing = 0
            if floating and (np.isnan(low) or np.isnan(total)):
                missing = int(np.count_nonzero(np.isnan(values)))
                if missing == len(values):
                    self.nulls += missing
                    return
                low, high = np.nanmin(values), np.nanmax(values)
                total = float(np.nansum(values, dtype="float64"))
        self.nulls += missing
        self.lows.append(float(low))
        self.highs.append(float(high))
        self.total += total
        self.count += len(values) - missing

    def summary(self) -> tuple[int, dict[str, Any]]:
        """``(nulls, {"min", "max", "mean"})``; no statistics when every value is null."""
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


def _rows_per_slice(df: pd.DataFrame) -> int:
    row_bytes = max(1, int(df.memory_usage(index=True, deep=False).sum()) // max(1, len(df)))
    return max(1024, SLICE_BYTES // row_bytes)


def release_arrow_memory() -> None:
    """Hand memory Arrow's allocator keeps cached back to the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def write_parquet(df: pd.DataFrame, file: BinaryIO) -> dict[int, ColumnStats]:
    """Write ``df`` as Parquet through ``file``, one slice of rows at a time.

    Returns the statistics of its numeric columns (by position, the first
    :data:`MAX_COLUMNS_DESCRIBED`), computed from each slice's Arrow columns
    instead of another pass over the frame.
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
            del part  # before the next slice is converted: one slice alive at a time
    finally:
        if writer is not None:
            writer.close()
        release_arrow_memory()
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


def read_frame(source: Any) -> pd.DataFrame:
    """The frame in ``source``: straight into one NumPy block when it is a plain matrix.

    A frame whose columns all share one integer or float dtype, hold no
    nulls, and whose index is a RangeIndex (a feature matrix, the common large
    frame) is read a row group at a time into a single preallocated block,
    which becomes the frame's only block: memory holds the frame plus one row
    group, never the whole Arrow table beside it. Any other frame goes through
    Arrow's own conversion (:func:`frame_from`).
    """
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source, pre_buffer=False, buffer_size=READ_BUFFER)
    layout = _matrix_layout(parquet)
    if layout is None:
        return frame_from(parquet.read())
    return _read_matrix(parquet, *layout)


def _matrix_layout(parquet: Any) -> tuple[Any, dict[str, Any]] | None:
    """(dtype, RangeIndex description) when the file holds a plain matrix, else None."""
    import numpy as np
    import pyarrow as pa

    schema = parquet.schema_arrow
    meta = schema.pandas_metadata
    if not meta or len(schema) == 0:
        return None
    index = meta.get("index_columns") or []
    if len(index) != 1 or not isinstance(index[0], dict) or index[0].get("kind") != "range":
        return None
    kinds = {field.type for field in schema}
    arrow_type = next(iter(kinds))
    if len(kinds) != 1 or not (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)):
        return None
    dtype = np.dtype(arrow_type.to_pandas_dtype())
    # Extension dtypes (nullable Int64, Float32) keep their own type: not a plain block.
    if any(column.get("numpy_type") != dtype.name for column in meta["columns"]):
        return None
    files = parquet.metadata
    for group in range(files.num_row_groups):
        for column in range(files.num_columns):
            stats = files.row_group(group).column(column).statistics
            if stats is None or not stats.has_null_count or stats.null_count:
                return None
    return dtype, index[0]


def _read_matrix(parquet: Any, dtype: Any, index: dict[str, Any]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    rows = parquet.metadata.num_rows
    schema = parquet.schema_arrow
    block = np.empty((len(schema), rows), dtype=dtype)  # row j of the block is column j
    offset = 0
    for group in range(parquet.metadata.num_row_groups):
        table = parquet.read_row_group(group)
        for j, column in enumerate(table.columns):
            at = offset
            for chunk in column.chunks:
                block[j, at : at + len(chunk)] = chunk.to_numpy(zero_copy_only=True)
                at += len(chunk)
        offset += table.num_rows
        del table, column
        release_arrow_memory()
    if offset != rows:
        raise ValueError(
            f"the Parquet file's row groups hold {offset} rows, its footer says {rows}"
        )
    columns = schema.empty_table().to_pandas().columns  # names and their index, as pandas wrote
    labels = pd.RangeIndex(index["start"], index["stop"], index["step"], name=index.get("name"))
    if len(labels) != rows:
        labels = pd.RangeIndex(rows, name=index.get("name"))
    # The transpose is a view: pandas keeps ``block`` itself as the frame's one block.
    return pd.DataFrame(block.T, index=labels, columns=columns, copy=False)


def frame_from(table: Any) -> pd.DataFrame:
    """The pandas frame of an Arrow table, never holding two copies of it.

    ``table`` is consumed. Every column of the frame is writable and owned by
    NumPy or pandas, as after ``pd.read_parquet``.
    """
    table, owned = _own_plain_columns(table)
    df = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    for position in range(df.shape[1]):
        column = df.iloc[:, position]
        values = owned.pop(position, None)
        if values is not None and np_shares_memory(column, values):
            # pandas got a read-only view of the buffer built below: hand it the buffer.
            df.isetitem(position, values)
        elif _read_only(column.array):
            # A zero-copy view of Arrow memory: swap in pandas' own copy, then free
            # Arrow's before the next column, so at most one column is doubled.
            df.isetitem(position, column.copy(deep=True))
            del column
            release_arrow_memory()
    release_arrow_memory()
    return df  # type: ignore[no-any-return]


def np_shares_memory(column: pd.Series, values: Any) -> bool:
    import numpy as np

    array = getattr(column.array, "_ndarray", None)
    return isinstance(array, np.ndarray) and bool(np.shares_memory(array, values))


def _own_plain_columns(table: Any) -> tuple[Any, dict[int, Any]]:
    """Gather each plain numeric column's row-group chunks into one NumPy buffer.

    pandas would otherwise get Arrow's concatenation of the chunks, read-only,
    and need a second copy to be writable. One column at a time, its chunks
    freed before the next, so memory grows by one column, not by the table.
    Returns the table (those columns now single buffers) and the buffers, by
    the position of their column in the frame (data columns come first).
    """
    import numpy as np
    import pyarrow as pa

    owned: dict[int, Any] = {}
    if not table.schema.pandas_metadata:
        return table, owned
    for i, field in enumerate(table.schema):
        column = table.column(i)
        plain = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        if not plain or column.num_chunks < 2 or column.null_count:
            continue
        values = np.empty(len(column), dtype=field.type.to_pandas_dtype())
        offset = 0
        for chunk in column.chunks:
            values[offset : offset + len(chunk)] = chunk.to_numpy(zero_copy_only=True)
            offset += len(chunk)
        del column, chunk
        table = table.set_column(i, field, pa.array(values))  # wraps, does not copy
        owned[i] = values
        release_arrow_memory()
    return table, owned


def _read_only(array: Any) -> bool:
    """Whether a pandas array holds a read-only NumPy buffer (its values could not be set).

    NumPy-backed arrays keep their buffer in ``_ndarray`` (categoricals: the
    codes), masked ones in ``_data`` and ``_mask``; Arrow-backed ones (strings)
    are immutable by design and are replaced, not written, when a value is set.
    """
    import numpy as np

    for attr in ("_ndarray", "_data", "_mask"):
        values = getattr(array, attr, None)
        if isinstance(values, np.ndarray) and not values.flags.writeable:
            return True
    return False


def read_parquet(file: BinaryIO) -> pd.DataFrame:
    """Read Parquet back into pandas (spooling a forward-only stream to disk first)."""
    if file.seekable():
        return read_frame(file)
    with spooled_path(file, ".parquet") as path:
        return read_frame(path)


def read_parquet_path(path: str) -> pd.DataFrame:
    """Read the Parquet file at ``path`` back into pandas."""
    return read_frame(path)
