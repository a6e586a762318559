"""What both chunked materializers share: peeking at a generator, and per-chunk checksums.

A generator's first chunk decides which chunked materializer writes it (Parquet
for frames and record batches, npy records for arrays), so ``accepts`` must look
at it; a generator cannot be rewound, so the chunk it yielded is kept here
(:func:`peek`) until ``save`` takes it back (:func:`chunks_of`). Kept in a
weak-keyed map: a generator that is never saved takes its first chunk with it.

:class:`SegmentWriter` and :class:`WriteBehind` sit between a format's writer and
the store's hashing file: they hash the bytes of each chunk on their own (BLAKE3, as
every artifact) while they pass, so the core can later verify each chunk before
decoding it (:mod:`flowy.artifacts.chunked` documents the layout recorded in the
metadata). ``SegmentWriter`` does it in the writing thread (NumPy writes whole
buffers); ``WriteBehind`` on a helper thread, so that pyarrow goes on encoding
the next pages meanwhile.
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


class WriteBehind(io.RawIOBase):
    """A write-only file whose writes are hashed and passed on by one helper thread, in order.

    A format's encoder (pyarrow's Parquet writer) keeps encoding the next pages
    while the helper hashes the segment (chunk) they belong to and writes them to
    ``target`` (the store's hashing file): encoding overlaps hashing and I/O. At
    most ``window`` bytes are in flight; a write beyond that waits. Segments are
    marked with :meth:`begin` and :meth:`end` from the writing thread;
    :meth:`finish` waits for the helper and returns every segment's
    ``{"offset", "size", "checksum"}`` in order. An error of the helper is raised
    in the writing thread at its next call.
    """

    def __init__(self, target: BinaryIO, window: int = 32 << 20) -> None:
        import queue
        import threading

        self._target = target
        self._window = window
        self.position = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Condition()
        self._in_flight = 0
        self._error: BaseException | None = None
        self._segments: list[dict[str, Any]] = []
        self._start: int | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="flowy-chunk-writer", daemon=True)
        self._thread.start()

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        self._raise()
        # pyarrow hands immutable bytes (kept as they are); anything else is copied first.
        piece = data if isinstance(data, bytes) else bytes(memoryview(data).cast("B"))
        with self._room:
            while self._in_flight and self._in_flight + len(piece) > self._window:
                self._room.wait()
                self._raise()
            self._in_flight += len(piece)
        self._queue.put(piece)
        self.position += len(piece)
        return len(piece)

    def flush(self) -> None:
        if not self._closing:  # closing after a failure must not raise it a second time
            self._raise()

    def begin(self) -> None:
        """Start a segment at the current position."""
        self._start = self.position
        self._queue.put(("begin", None))

    def end(self) -> dict[str, Any]:
        """End the segment; its checksum is filled in by the helper (see :meth:`finish`)."""
        if self._start is None:
            raise RuntimeError("WriteBehind.end() without begin()")
        segment = {"offset": self._start, "size": self.position - self._start, "checksum": ""}
        self._segments.append(segment)
        self._start = None
        self._queue.put(("end", segment))
        return segment

    def finish(self) -> list[dict[str, Any]]:
        """Wait until everything is hashed and written; the segments, checksums filled in."""
        self._queue.put(("stop", None))
        self._thread.join()
        self._raise()
        self._target.flush()
        return self._segments

    def close(self) -> None:
        """Stop the helper (what is queued is still written); the target stays open."""
        self._closing = True
        if self._thread.is_alive():
            self._queue.put(("stop", None))
            self._thread.join()
        super().close()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        checksum: Checksum | None = None
        while True:
            item = self._queue.get()
            if isinstance(item, bytes):
                try:
                    if self._error is None:
                        if checksum is not None:
                            checksum.update(item)
                        self._target.write(item)
                except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
                    self._error = exc
                with self._room:
                    self._in_flight -= len(item)
                    self._room.notify()
                continue
            kind, segment = item
            if kind == "stop":
                return
            if kind == "begin":
                checksum = Checksum()
            elif checksum is not None:
                segment["checksum"] = checksum.value()
                checksum.close()
                checksum = None
