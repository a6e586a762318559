"""Streaming steps' outputs: a generator's chunks written as they arrive, as one artifact.

A step that is a generator function returns a generator object; the core hands
it to the materializer registered for ``builtins.generator`` like any output.
Two are, and the first chunk decides (:func:`flowy_materializers._chunks.peek`):

* ``chunked_parquet``: pandas DataFrames, pyarrow RecordBatches or Tables, one
  Parquet row group per chunk (:mod:`flowy_materializers._parquet_chunks`); an
  empty generator too (an empty Parquet file);
* ``chunked_npy``: numpy arrays, one ``.npy`` record per chunk
  (:mod:`flowy_materializers._npy_chunks`).

``save`` consumes the generator while writing, so memory holds a few chunks,
never the stream. The core computes the whole file's checksum as usual; each
chunk's own checksum and byte range go into the metadata, so a step asking for
``Iterator[...]`` gets the chunks one at a time, each verified before it is
handed over (:mod:`flowy.artifacts.chunked`, ``chunk_decoder`` here). Loading
the artifact whole gives the concatenation: one DataFrame, pyarrow Table or
array. An exception in the generator fails the step and leaves no artifact
(the store discards a write whose block raised).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer

from flowy_materializers._chunks import EMPTY, chunks_of, family, peek, unsupported_chunk

_PARQUET_KINDS = ("pandas", "arrow_table", "arrow_batch")


class ChunkedParquetMaterializer(Materializer):
    """A generator of DataFrames or record batches as one Parquet file, a row group per chunk."""

    name = "chunked_parquet"
    version = "1"
    extension = ".parquet"

    def accepts(self, obj: Any) -> bool:
        first = peek(obj)
        return first is EMPTY or family(first) in _PARQUET_KINDS

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        from flowy_materializers._parquet_chunks import write_chunks

        chunks = chunks_of(obj)
        first = next(chunks, EMPTY)
        return write_chunks(first, chunks, file)

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        from flowy_materializers._files import spooled_path
        from flowy_materializers._parquet_chunks import load_whole

        with spooled_path(file, ".parquet") as path:  # Parquet must seek to its footer
            return load_whole(path, metadata)

    def load_path(self, path: str, metadata: Mapping[str, Any]) -> Any:
        from flowy_materializers._parquet_chunks import load_whole

        return load_whole(path, metadata)

    def chunk_buffer(self, size: int) -> Any:
        """From pyarrow's memory pool: recycled memory, nothing zeroed (see ChunkDecoding)."""
        import pyarrow as pa

        return pa.allocate_buffer(size, resizable=False)

    def chunk_decoder(
        self, metadata: Mapping[str, Any], tail: bytes | None, want: type | None
    ) -> Callable[[int, Any], Any]:
        """See :class:`flowy.artifacts.chunked.ChunkDecoding`."""
        from flowy_materializers._parquet_chunks import chunk_decoder

        return chunk_decoder(metadata, tail, want)


class ChunkedNpyMaterializer(Materializer):
    """A generator of numpy arrays as one file of ``.npy`` records, concatenated on axis 0."""

    name = "chunked_npy"
    version = "1"
    extension = ".npys"

    def accepts(self, obj: Any) -> bool:
        first = peek(obj)
        if first is EMPTY or family(first) in _PARQUET_KINDS:
            return False
        if family(first) != "numpy":
            # Asked last among the generator's claimants: nothing else could store it.
            raise unsupported_chunk(first)
        return True

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        from flowy_materializers._npy_chunks import write_chunks

        chunks = chunks_of(obj)
        return write_chunks(next(chunks), chunks, file)

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        from flowy_materializers._npy_chunks import load_whole

        return load_whole(file, metadata)

    def chunk_buffer(self, size: int) -> Any:
        """Uninitialized NumPy memory; the chunk's array is a view of it (see ChunkDecoding)."""
        import numpy as np

        return np.empty(size, dtype=np.uint8)

    def chunk_decoder(
        self, metadata: Mapping[str, Any], tail: bytes | None, want: type | None
    ) -> Callable[[int, Any], Any]:
        """See :class:`flowy.artifacts.chunked.ChunkDecoding`."""
        from flowy_materializers._npy_chunks import chunk_decoder

        return chunk_decoder(metadata, tail, want)
