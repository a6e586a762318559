"""A stream of numpy arrays as one file of ``.npy`` records, never pickled.

The file is the chunks' ``.npy`` records back to back (each its own magic,
header and C-ordered data, as ``np.save`` writes them, one after the other),
so each chunk's bytes are one contiguous range; the index (offset, size, rows
and checksum of each record) is the artifact's metadata (see
:mod:`flowy.artifacts.chunked`). Every chunk has the first one's dtype and the
same shape after its first axis; the stream is their concatenation along axis 0.
Object arrays are refused: their records would be pickles.

Reading a chunk decodes its verified bytes in place: the array is a writable view
of the buffer the core read them into, with no further copy. Reading the whole
stream allocates the concatenated array once and reads each record's data
straight into its rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.kernel.errors import FlowyError, UnsafeArtifactError

from flowy_materializers._chunks import CHUNKS_KEY, SHOWN, SegmentWriter, family, mixed_chunk

if TYPE_CHECKING:
    import numpy as np

#: A record's header is read from at most this many of its first bytes (npy v1 headers
#: are under 64 KiB; a v2/v3 header of a structured dtype could be longer).
HEADER_MAX = 1 << 20


def _check(chunk: Any, index: int, first: Any) -> np.ndarray:
    import numpy as np

    if family(chunk) != "numpy":
        raise mixed_chunk(index, chunk, SHOWN["numpy"])
    if chunk.dtype.hasobject:
        raise FlowyError(
            f"Chunk {index} of the stream is an object-dtype array, which can only be stored "
            "pickled; streamed arrays are never pickled. Yield numeric, bool, string or "
            "datetime arrays (convert with `chunk.astype(...)`)."
        )
    if chunk.ndim == 0:
        raise FlowyError(
            f"Chunk {index} of the stream is a 0-dimensional array; chunks are concatenated "
            "along their first axis, so each needs at least one dimension (yield "
            "`np.atleast_1d(value)`)."
        )
    if first is not None and (chunk.dtype != first.dtype or chunk.shape[1:] != first.shape[1:]):
        raise FlowyError(
            f"Chunk {index} of the stream has dtype {chunk.dtype} and rows of shape "
            f"{chunk.shape[1:]}, but the first chunk had {first.dtype} and {first.shape[1:]}: "
            "streamed arrays are concatenated along axis 0, so every chunk needs the same "
            "dtype and the same shape after its first axis. Convert it in the generator."
        )
    return np.ascontiguousarray(chunk)


def write_chunks(first: Any, chunks: Iterator[Any], file: BinaryIO) -> dict[str, Any]:
    """Write ``first`` and the rest of ``chunks`` as ``.npy`` records; return the metadata."""
    from flowy_materializers.numpy_materializer import write_npy

    head = _check(first, 0, None)
    sample = head[:0]  # dtype and row shape, without keeping the first chunk alive
    sink = SegmentWriter(file)
    entries: list[dict[str, Any]] = []
    try:
        array: Any = head
        del head, first
        index = 0
        while True:
            if len(array):
                sink.begin()
                write_npy(array, sink)  # type: ignore[arg-type]
                entries.append({**sink.end(), "rows": len(array)})
            del array
            index += 1
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            array = _check(chunk, index, sample)
            del chunk
    finally:
        sink.close()
    rows = sum(e["rows"] for e in entries)
    return {
        "kind": "numpy",
        "shape": [rows, *sample.shape[1:]],
        "dtype": str(sample.dtype),
        CHUNKS_KEY: {
            "format": "npy",
            "kind": "numpy",
            "rows": rows,
            "count": len(entries),
            "chunks": entries,
            "tail": None,
        },
    }


def _header(file: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(file)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(file)
    else:
        shape, fortran, dtype = fmt.read_array_header_2_0(file)
    if dtype.hasobject:
        raise UnsafeArtifactError(
            "A record of this chunked array artifact holds an object-dtype array, which only "
            "unpickling could load; Flowy never unpickles a stream. The file was not written "
            "by Flowy's chunked_npy materializer: do not trust it."
        )
    return shape, fortran, dtype


def chunk_decoder(
    metadata: Mapping[str, Any], tail: bytes | None, want: type | None
) -> Callable[[int, Any], Any]:
    """Decode one verified ``.npy`` record into a writable array over its own bytes."""
    import numpy as np

    if want is not None and f"{want.__module__}.{want.__qualname__}" != "numpy.ndarray":
        shown = f"{want.__module__.split('.')[0]}.{want.__qualname__}"
        raise FlowyError(
            f"The step asks for an iterator of {shown}, but this stream holds numpy.ndarray "
            "chunks (npy records). Annotate the parameter `Iterator[np.ndarray]` (or a bare "
            "Iterator), or convert each chunk in the step."
        )

    def decode(index: int, data: Any) -> Any:
        probe = io.BytesIO(bytes(memoryview(data)[:HEADER_MAX]))
        shape, fortran, dtype = _header(probe)
        count = 1
        for n in shape:
            count *= n
        array = np.frombuffer(data, dtype=dtype, count=count, offset=probe.tell())
        return array.reshape(shape, order="F" if fortran else "C")

    return decode


def load_whole(file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
    """The concatenation of every record, read straight into one preallocated array."""
    import numpy as np

    layout = metadata[CHUNKS_KEY]
    shape = [int(n) for n in metadata["shape"]]
    whole: Any = None
    at = 0
    for index, entry in enumerate(layout["chunks"]):
        chunk_shape, fortran, dtype = _header(file)
        if whole is None:
            whole = np.empty(shape, dtype=dtype)
        if dtype != whole.dtype or tuple(chunk_shape[1:]) != whole.shape[1:] or fortran:
            raise FlowyError(f"Record {index} of the chunked array does not match its index")
        rows = chunk_shape[0]
        if rows != int(entry["rows"]) or at + rows > len(whole):
            raise FlowyError(f"Record {index} of the chunked array does not match its index")
        view = memoryview(whole[at : at + rows].reshape(-1).view(np.uint8))
        filled = 0
        while filled < len(view):
            n = file.readinto(view[filled:])  # type: ignore[attr-defined]
            if not n:
                raise FlowyError(f"The chunked array ends inside record {index}; re-run the step")
            filled += n
        at += rows
    if whole is None:
        return np.empty([0, *shape[1:]], dtype=np.dtype(str(metadata.get("dtype", "float64"))))
    return whole
