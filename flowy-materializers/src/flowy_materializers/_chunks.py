"""What both chunked materializers share: peeking at a generator, and per-chunk checksums.

A generator's first chunk decides which chunked materializer writes it (Parquet
for frames and record batches, npy records for arrays), so ``accepts`` must look
at it; a generator cannot be rewound, so the chunk it yielded is kept here
(:func:`peek`) until ``save`` takes it back (:func:`chunks_of`). Kept in a
weak-keyed map: a generator that is never saved takes its first chunk with it.

:class:`SegmentWriter` sits between a format's writer and the store's hashing
file: it hashes the bytes of each chunk on their own (BLAKE3, as every artifact)
while they pass, so the core can later verify each chunk before decoding it
(:mod:`flowy.artifacts.chunked` documents the layout recorded in the metadata).
"""

from __future__ import annotations

import io
import sys
import weakref
from collections.abc import Iterator
from typing import Any, BinaryIO

from flowy.artifacts import Checksum
from flowy.kernel.errors import FlowyError

#: The metadata key the core reads the chunk layout from (flowy.artifacts.chunked.CHUNKS_KEY).
CHUNKS_KEY = "flowy_chunks"
#: What the first ``next()`` of an empty generator gives.
EMPTY: Any = object()

_PEEKED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

#: Chunk families and the classes (by module) that belong to them, checked without imports.
FAMILIES = {
    "pandas": ("pandas", "DataFrame"),
    "arrow_table": ("pyarrow", "Table"),
    "arrow_batch": ("pyarrow", "RecordBatch"),
    "numpy": ("numpy", "ndarray"),
}
SHOWN = {
    "pandas": "pandas.DataFrame",
    "arrow_table": "pyarrow.Table",
    "arrow_batch": "pyarrow.RecordBatch",
    "numpy": "numpy.ndarray",
}


def peek(generator: Any) -> Any:
    """The first chunk ``generator`` yields (:data:`EMPTY` if none), kept for :func:`chunks_of`.

    Runs the generator up to its first ``yield``; an exception it raises is the step's.
    """
    if generator in _PEEKED:
        return _PEEKED[generator]
    try:
        first = next(generator)
    except StopIteration:
        first = EMPTY
    _PEEKED[generator] = first
    return first


def chunks_of(generator: Any) -> Iterator[Any]:
    """Every chunk of ``generator``, the one :func:`peek` took first."""
    first = peek(generator)
    _PEEKED.pop(generator, None)
    if first is EMPTY:
        return
    yield first
    del first
    yield from generator


def family(chunk: Any) -> str | None:
    """``"pandas"``, ``"arrow_table"``, ``"arrow_batch"``, ``"numpy"``, or None (none of those)."""
    for name, (module, cls) in FAMILIES.items():
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(chunk, getattr(loaded, cls)):
            return name
    return None


def type_shown(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def unsupported_chunk(first: Any) -> FlowyError:
    """The error for a generator step whose first chunk is no chunk type Flowy can stream."""
    return FlowyError(
        f"A streaming step (a generator) yielded a {type_shown(first)} as its first chunk; a "
        "streamed output's chunks must be pandas DataFrames, pyarrow RecordBatches or Tables "
        "(stored as Parquet row groups) or numpy arrays (stored as npy records). Yield one of "
        "those, or return a value instead of yielding (a `return` step is stored whole)."
    )


def mixed_chunk(index: int, chunk: Any, expected: str) -> FlowyError:
    return FlowyError(
        f"Chunk {index} of the stream is a {type_shown(chunk)}, but the first chunk was a "
        f"{expected}: every chunk of a streamed output must be of the same kind. Convert it "
        "in the generator before yielding it."
    )


class SegmentWriter(io.RawIOBase):
    """A write-only file that hashes each segment (chunk) of what passes through it.

    :meth:`begin` starts a segment at the current position; :meth:`end` returns
    ``{"offset", "size", "checksum"}`` of the bytes written since. Bytes outside
    segments (a format's header) are still written, just not hashed here.
    """

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.position = 0
        self._start: int | None = None
        self._checksum: Checksum | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self._checksum is not None:
            # A large write is hashed on the helper thread while it goes on to the store.
            self._checksum.update_while(view, lambda: self._target.write(view))
        else:
            self._target.write(view)  # type: ignore[arg-type]
        self.position += len(view)
        return len(view)

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._target.flush()

    def begin(self) -> None:
        """Start hashing a new segment here."""
        if self._checksum is not None:
            self._checksum.close()
        self._start = self.position
        self._checksum = Checksum()

    def end(self) -> dict[str, Any]:
        """The segment since :meth:`begin`: where it is, how long, and its checksum."""
        if self._checksum is None or self._start is None:
            raise RuntimeError("SegmentWriter.end() without begin()")
        checksum, self._checksum = self._checksum, None
        try:
            value = checksum.value()
        finally:
            checksum.close()
        return {"offset": self._start, "size": self.position - self._start, "checksum": value}

    def close(self) -> None:
        """Stops hashing; the target stays open (the store closes it)."""
        if self._checksum is not None:
            self._checksum.close()
            self._checksum = None
        super().close()
