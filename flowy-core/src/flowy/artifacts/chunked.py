"""Chunked artifacts: one file written chunk by chunk, read back one verified chunk at a time.

A streaming step (a generator function) yields chunks; a chunked materializer
(flowy-materializers' ``chunked_parquet`` and ``chunked_npy``) writes them into
one artifact as they arrive, through the same hashing writer as every artifact
(:func:`flowy.artifacts.store_io.write_artifact`), so the whole file has its
usual checksum. Each chunk's bytes are a contiguous range of the file, hashed on
their own while written, and the materializer records the ranges in the
artifact's metadata under :data:`CHUNKS_KEY`::

    {"format": "parquet", "kind": "pandas", "rows": 2000,
     "chunks": [{"offset": 4, "size": 8127, "rows": 1000, "checksum": "blake3:..."}, ...],
     "tail": {"offset": 16302, "size": 911, "checksum": "blake3:..."}}

``tail`` (optional) is what a format must read before any chunk (Parquet's
footer). :func:`read_chunks` reads the file once, front to back, and hands on
each chunk's bytes only after they hashed to the recorded value; the whole
file's checksum is compared at the end. Bytes are never read twice from the
store, so what is verified is what is decoded.

The materializer decodes: it implements :class:`ChunkDecoding`. This module
knows no file format and imports no framework.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

from flowy.artifacts.checksums import Checksum, mismatch, short
from flowy.kernel.errors import ChecksumMismatchError, FlowyError

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore
    from flowy.kernel.records import ArtifactRef

#: The key of an artifact's metadata that describes its chunks (see the module docstring).
CHUNKS_KEY = "flowy_chunks"
#: Gaps between chunks (a format's header) are read through a buffer this large.
_GAP_BUFFER = 1 << 20
#: Makes a writable buffer of a given size (``bytearray`` by default) to read a chunk into.
Allocate = Callable[[int], Any]


@runtime_checkable
class ChunkDecoding(Protocol):
    """What a chunked materializer offers besides ``load``: decoding one chunk at a time."""

    def chunk_buffer(self, size: int) -> Any:
        """A new writable buffer of ``size`` bytes that one chunk is read into (and that the
        decoded value may keep using: a fresh one per chunk)."""
        ...

    def chunk_decoder(
        self, metadata: Mapping[str, Any], tail: bytes | None, want: type | None
    ) -> Callable[[int, Any], Any]:
        """A function turning chunk ``i``'s verified bytes (a :meth:`chunk_buffer`) into the
        value to hand on.

        ``tail`` is the verified tail segment (None when the format has none);
        ``want`` is the chunk type the consuming step asked for
        (``Iterator[pd.DataFrame]`` gives ``pd.DataFrame``), or None for the type
        the chunks were written as. A type the format cannot give is a
        :class:`~flowy.kernel.errors.FlowyError` naming what it can.
        """
        ...


def chunk_layout(ref: ArtifactRef) -> Mapping[str, Any] | None:
    """The chunk layout recorded with ``ref``, or None when it is not a chunked artifact."""
    layout = (ref.metadata or {}).get(CHUNKS_KEY)
    return layout if isinstance(layout, Mapping) else None


def chunk_mismatch(
    ref: ArtifactRef, index: int, count: int, actual: str, expected: str
) -> Exception:
    """The error for chunk ``index`` of ``ref`` whose bytes do not match their checksum."""
    return ChecksumMismatchError(
        f"Artifact {ref.uri} is corrupted: chunk {index} (of {count}) hashes to "
        f"{short(actual)}... but {short(expected)}... was recorded when it was written. It was "
        "changed or truncated after the run; nothing of that chunk was handed to the step. "
        "Re-run the step that produced it (`flowy run ... --no-cache`) to write it again."
    )


def _read_exactly(
    file: BinaryIO, size: int, ref: ArtifactRef, what: str, allocate: Allocate = bytearray
) -> Any:
    data = allocate(size)
    view = memoryview(data).cast("B")
    filled = 0
    while filled < size:
        n = file.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            raise ChecksumMismatchError(
                f"Artifact {ref.uri} is truncated: it ends inside {what} ({filled} of {size} "
                "bytes). Re-run the step that produced it (`flowy run ... --no-cache`)."
            )
        filled += n
    return data


def _segment(layout: Mapping[str, Any], ref: ArtifactRef, entry: Any) -> tuple[int, int, str]:
    try:
        return int(entry["offset"]), int(entry["size"]), str(entry["checksum"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FlowyError(
            f"Artifact {ref.uri}: its chunk layout ({CHUNKS_KEY} in its metadata) is damaged "
            f"({type(exc).__name__}: {exc}). Re-run the step that produced it."
        ) from exc


@contextlib.contextmanager
def _seekable(raw: BinaryIO) -> Iterator[BinaryIO]:
    """``raw`` itself when it can seek; else a temporary copy of it (a forward-only store)."""
    if raw.seekable():
        yield raw
        return
    with tempfile.TemporaryFile(prefix="flowy-chunks-") as spool:
        shutil.copyfileobj(raw, spool, _GAP_BUFFER)
        spool.seek(0)
        yield spool  # type: ignore[misc]


def read_chunks(
    store: ArtifactStore,
    ref: ArtifactRef,
    on_tail: Callable[[bytes | None], None],
    allocate: Allocate = bytearray,
) -> Generator[tuple[int, Any], None, None]:
    """``(index, bytes)`` of each chunk of ``ref``, in order, each verified before it is yielded.

    ``on_tail`` receives the verified tail segment (or None) before the first
    chunk. Each chunk is read into a new writable buffer from ``allocate(size)``
    (a materializer's :meth:`ChunkDecoding.chunk_buffer`: a library's memory pool
    hands out recycled memory, where a fresh ``bytearray`` costs a zeroing pass).

    The store stream is opened on the first ``next()`` and closed when the
    generator ends, raises, or is closed: whatever happens. After the last chunk
    the rest of the file is hashed and the whole checksum compared (a mismatch is
    :class:`~flowy.kernel.errors.ChecksumMismatchError`, as for any artifact).
    """
    layout = chunk_layout(ref)
    if layout is None:
        raise FlowyError(f"Artifact {ref.uri} is not a chunked artifact")
    chunks = [_segment(layout, ref, entry) for entry in layout.get("chunks") or ()]
    tail = layout.get("tail")
    whole = Checksum(ref.checksum)
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_seekable(stack.enter_context(store.open_read(ref.uri))))
        stack.callback(whole.close)
        tail_bytes = None
        if tail:
            offset, size, expected = _segment(layout, ref, tail)
            raw.seek(offset)
            tail_bytes = bytes(_read_exactly(raw, size, ref, "its footer"))
            check = Checksum(expected)
            check.update(tail_bytes)
            if check.value() != expected:
                raise ChecksumMismatchError(
                    f"Artifact {ref.uri} is corrupted: its footer (what locates every chunk) "
                    f"hashes to {short(check.value())}... but {short(expected)}... was "
                    "recorded. Re-run the step that produced it (`flowy run ... --no-cache`)."
                )
            raw.seek(0)
        on_tail(tail_bytes)
        position = 0
        for index, (offset, size, expected) in enumerate(chunks):
            if offset < position:
                raise FlowyError(f"Artifact {ref.uri}: chunk {index} overlaps the one before it")
            if offset > position:  # a format's header: hashed for the whole checksum only
                whole.update(_read_exactly(raw, offset - position, ref, "its header"))
            data = _read_exactly(raw, size, ref, f"chunk {index}", allocate)
            position = offset + size
            check = Checksum(expected)
            view = memoryview(data).cast("B")
            whole.submit(view)  # on the helper thread, while this thread hashes the chunk
            check.update(view)
            whole.wait()
            if check.value() != expected:
                raise chunk_mismatch(ref, index, len(chunks), check.value(), expected)
            del view
            yield index, data
        while rest := raw.read(_GAP_BUFFER):
            whole.update(rest)
        actual = whole.value()
        if actual != ref.checksum:
            raise mismatch(ref.uri, actual, ref.checksum)
