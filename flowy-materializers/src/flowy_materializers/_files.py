"""File helpers shared by materializers whose libraries want a path or a seekable file.

Parquet readers seek to the footer and Keras saves to a path, while the core
hands materializers a forward-only stream (it hashes as it goes). These
helpers bridge the two with a temporary file copied in 1 MiB chunks, so the
bytes pass through disk (page cache), never through a second in-memory copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1 << 20


def copy_stream(source: BinaryIO, target: BinaryIO) -> int:
    """Copy ``source`` to ``target`` in chunks; return the number of bytes copied."""
    total = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        n = source.readinto(view)  # type: ignore[attr-defined]
        if not n:
            return total
        target.write(view[:n])
        total += n


@contextlib.contextmanager
def spooled_path(source: BinaryIO, suffix: str) -> Iterator[str]:
    """``source``'s bytes as a temporary file path, removed when the block exits."""
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="flowy-")
    try:
        with os.fdopen(fd, "wb") as out:
            copy_stream(source, out)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


@contextlib.contextmanager
def temp_path(suffix: str) -> Iterator[str]:
    """A fresh temporary path (inside a private folder) for libraries that save to a path."""
    folder = tempfile.mkdtemp(prefix="flowy-")
    try:
        yield os.path.join(folder, f"artifact{suffix}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_file_to(path: str, target: BinaryIO) -> int:
    """Stream the file at ``path`` into ``target`` in chunks; return its size."""
    with open(path, "rb") as source:
        return copy_stream(source, target)


def json_safe(value: object) -> object:
    """``value`` if JSON can hold it exactly, else its ``repr`` (for metadata only)."""
    import json
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value
