"""A stream of frames or record batches as one Parquet file, one row group per chunk.

Writing: the first chunk fixes the schema; each chunk becomes one row group,
written as it arrives (``write_table(..., row_group_size=rows)``: pyarrow
closes the row group before returning, so the bytes between two calls are
exactly one row group), hashed on its own by :class:`WriteBehind` on a helper
thread while pyarrow encodes on (the store's writer hashes the whole file). The footer
is the tail segment. After closing, the recorded ranges are checked against the
footer's own row-group offsets, so a pyarrow that wrote differently is an error,
not a wrong checksum. The file is plain Parquet: ``pd.read_parquet`` reads it.

Reading a chunk: the core hands over the verified footer and the verified bytes
of one row group; pyarrow decodes them through :class:`_Window`, a file that
holds only those bytes at their offsets (anything else is refused), so nothing
is read from the store a second time.

Indexes: a frame's unnamed one-level index (a RangeIndex, or what filtering left
of one) is not stored; read back, the chunks carry one running RangeIndex. A
named index or a MultiIndex is stored with each chunk, as the pandas
materializer does.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

from flowy.kernel.errors import FlowyError

from flowy_materializers._chunks import CHUNKS_KEY, SHOWN, WriteBehind, family, mixed_chunk

ARROW = ("arrow_table", "arrow_batch")


def _table(chunk: Any, kind: str, index: int, expected: str) -> Any:
    import pyarrow as pa

    got = family(chunk)
    if kind == "pandas":
        if got != "pandas":
            raise mixed_chunk(index, chunk, expected)
        keep = chunk.index.nlevels > 1 or any(name is not None for name in chunk.index.names)
        return pa.Table.from_pandas(chunk, preserve_index=keep)
    if got not in ARROW:
        raise mixed_chunk(index, chunk, expected)
    return pa.Table.from_batches([chunk]) if got == "arrow_batch" else chunk


def _conform(table: Any, schema: Any, index: int) -> Any:
    """``table`` under ``schema``; a chunk with other columns or types is a clear error."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    import pyarrow as pa

    ours = {f.name: f.type for f in table.schema}
    first = {f.name: f.type for f in schema}
    nulls_only = list(ours) == list(first) and all(
        ours[n] == first[n] or pa.types.is_null(ours[n]) for n in first
    )
    if nulls_only:  # an all-missing column inferred as null: the first chunk's type holds it
        return table.cast(schema)
    missing = [n for n in first if n not in ours]
    extra = [n for n in ours if n not in first]
    changed = [f"{n}: {first[n]} -> {ours[n]}" for n in first if n in ours and ours[n] != first[n]]
    parts = [
        f"missing columns {missing}" if missing else "",
        f"new columns {extra}" if extra else "",
        f"changed types {changed}" if changed else "",
        "columns in another order" if not (missing or extra or changed) else "",
    ]
    raise FlowyError(
        f"Chunk {index} of the stream does not match the first chunk's schema: "
        f"{'; '.join(p for p in parts if p)}. Every chunk of a streamed output is a row group "
        "of one Parquet file, so all must have the same columns, in the same order, with the "
        "same types: convert them in the generator (e.g. `chunk.astype({'x': 'float64'})`), "
        "or write separate outputs."
    )


def _row_group_ranges(metadata: Any) -> list[tuple[int, int]]:
    ranges = []
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        starts, ends = [], []
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            offsets = [chunk.data_page_offset]
            if chunk.has_dictionary_page and chunk.dictionary_page_offset:
                offsets.append(chunk.dictionary_page_offset)
            starts.append(min(offsets))
            ends.append(min(offsets) + chunk.total_compressed_size)
        ranges.append((min(starts), max(ends) - min(starts)) if starts else (0, 0))
    return ranges


def write_chunks(first: Any, chunks: Iterator[Any], file: BinaryIO) -> dict[str, Any]:
    """Write ``first`` and the rest of ``chunks`` as row groups; return the artifact metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = family(first) or "empty"
    expected = SHOWN.get(kind, "")
    # pyarrow keeps encoding while a helper thread hashes each chunk's bytes and writes them.
    sink = WriteBehind(file)
    table = _table(first, kind, 0, expected) if kind != "empty" else pa.table({})
    schema = table.schema
    entries: list[dict[str, Any]] = []
    writer = pq.ParquetWriter(sink, schema, compression="snappy")
    done = object()
    try:
        index = 0
        while True:
            if table.num_rows:  # an empty chunk was checked; it adds no row group
                sink.begin()
                writer.write_table(table, row_group_size=table.num_rows)
                entry = sink.end()
                entry["rows"] = table.num_rows
                entries.append(entry)
            del table
            index += 1
            chunk = next(chunks, done)
            if chunk is done:
                break
            table = _conform(_table(chunk, kind, index, expected), schema, index)
            del chunk
            if index % 16 == 0:
                pa.default_memory_pool().release_unused()
        sink.begin()
        writer.close()
        tail = sink.end()
        sink.finish()
    except BaseException:
        with contextlib.suppress(Exception):  # the step's own error is the one to report
            writer.close()
        raise
    finally:
        sink.close()
        pa.default_memory_pool().release_unused()
    ranges = _row_group_ranges(writer.writer.metadata)
    if ranges != [(e["offset"], e["size"]) for e in entries]:
        raise FlowyError(
            f"pyarrow {pa.__version__} did not write each chunk as one contiguous row group "
            "(its footer's row-group offsets differ from the bytes written per chunk), so the "
            "chunks cannot be checksummed one by one. Report this with your pyarrow version."
        )
    rows = sum(e["rows"] for e in entries)
    return {
        "kind": kind,
        "rows": rows,
        "columns": [f.name for f in schema][:200],
        "dtypes": {f.name: str(f.type) for f in list(schema)[:200]},
        CHUNKS_KEY: {
            "format": "parquet",
            "kind": kind,
            "rows": rows,
            "count": len(entries),
            "chunks": entries,
            "tail": tail,
            "size": tail["offset"] + tail["size"],
        },
    }


class _Window(io.RawIOBase):
    """A read-only file of ``total`` bytes of which only ``data`` at ``offset`` can be read."""

    def __init__(self, total: int, offset: int, data: Any, what: str) -> None:
        self._total = total
        self._offset = offset
        self._data = memoryview(data).cast("B")
        self._what = what
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._total}[whence]
        self._position = base + position
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> memoryview:  # type: ignore[override]
        if size is None or size < 0:
            size = self._total - self._position
        start = self._position - self._offset
        if start < 0 or start + size > len(self._data):
            raise FlowyError(
                f"The Parquet footer points outside {self._what} (bytes {self._position}.."
                f"{self._position + size}); the artifact is damaged. Re-run the step."
            )
        self._position += size
        return self._data[start : start + size]

    def readinto(self, buffer: Any) -> int:
        view = self.read(len(buffer))
        buffer[: len(view)] = view
        return len(view)


def chunk_decoder(
    metadata: Mapping[str, Any], tail: bytes | None, want: type | None
) -> Callable[[int, Any], Any]:
    """Decode row group ``i`` from its verified bytes into what ``want`` asks for."""
    import pyarrow.parquet as pq

    layout = metadata[CHUNKS_KEY]
    kind = str(layout.get("kind"))
    target = _target(kind, want)
    footer = pq.ParquetFile(io.BytesIO(b"PAR1" + (tail or b""))).metadata
    total = int(layout["size"])
    starts, rows = [], 0
    for entry in layout["chunks"]:
        starts.append(rows)
        rows += int(entry["rows"])
    ranged = footer.schema.to_arrow_schema().pandas_metadata or {}
    running_index = not ranged.get("index_columns")

    def decode(index: int, data: Any) -> Any:
        entry = layout["chunks"][index]
        window = _Window(total, int(entry["offset"]), data, f"chunk {index}")
        table = pq.ParquetFile(window, metadata=footer, pre_buffer=False).read_row_group(index)
        del window
        if target == "arrow_table":
            return table
        if target == "arrow_batch":
            return table.combine_chunks().to_batches()[0]
        from flowy_materializers._parquet import frame_from

        frame = frame_from(table)
        if running_index:
            import pandas as pd

            frame.index = pd.RangeIndex(starts[index], starts[index] + len(frame))
        return frame

    return decode


def _target(kind: str, want: type | None) -> str:
    """What each chunk becomes: the written kind, or the one the step's annotation names."""
    if want is None:
        return "pandas" if kind == "empty" else kind
    module, name = want.__module__.split(".")[0], want.__qualname__
    for candidate in ("pandas", "arrow_table", "arrow_batch"):
        if SHOWN[candidate] == f"{module}.{name}":
            return candidate
    if kind == "empty":
        return "pandas"
    raise FlowyError(
        f"The step asks for an iterator of {module}.{name}, but this stream holds "
        f"{SHOWN.get(kind, kind)} chunks (Parquet row groups), which can be read as "
        "pandas.DataFrame, pyarrow.Table or pyarrow.RecordBatch. Annotate the parameter "
        "with one of those (or a bare Iterator)."
    )


def load_whole(source: Any, metadata: Mapping[str, Any]) -> Any:
    """The whole stream: one DataFrame (pandas or empty chunks) or one pyarrow Table."""
    kind = str(metadata.get("kind") or metadata[CHUNKS_KEY].get("kind"))
    if kind in ARROW:
        import pyarrow.parquet as pq

        return pq.read_table(source)
    from flowy_materializers._parquet import read_frame

    return read_frame(source)
