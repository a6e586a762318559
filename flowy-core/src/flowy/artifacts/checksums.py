"""Artifact checksums: BLAKE3, hashed beside the I/O that moves the bytes.

Every artifact is hashed while it is written and verified while it is read
(:mod:`flowy.artifacts.store_io`). New checksums are BLAKE3, recorded as
``"blake3:<64 hex digits>"``. A bare 64-hex-digit value is a sha256 checksum
recorded before Flowy switched to BLAKE3; it still verifies, with sha256.

BLAKE3 (the ``blake3`` package, a Rust binding) hashes several times faster
than sha256 and releases the GIL for large inputs, so a large piece is hashed
on a helper thread while the calling thread moves the same bytes to or from the
store (:meth:`Checksum.update_while`): on two cores hashing then costs almost
nothing beyond the I/O. ``blake3`` is imported on first use, not with
``flowy``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowy.kernel.errors import ChecksumMismatchError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

ALGORITHM = "blake3"
PREFIX = "blake3:"
#: Pieces at least this large are hashed on the helper thread, overlapped with I/O;
#: below it a thread hand-off costs more than the hash.
OVERLAP_MIN = 2 << 20
#: How much a read is split into so that hashing one piece overlaps reading the next.
PIECE = 8 << 20
#: The buffer a local file is hashed through (cache-sized: faster than larger ones).
FILE_BUFFER = 1 << 20

_HEX = frozenset("0123456789abcdef")


def _blake3() -> Any:
    from blake3 import blake3

    return blake3()


def _sha256() -> Any:
    import hashlib

    return hashlib.sha256()


def algorithm_of(checksum: str) -> str:
    """``"blake3"`` or ``"sha256"`` (legacy, bare hex); ValueError for anything else."""
    digits = checksum[len(PREFIX) :] if checksum.startswith(PREFIX) else checksum
    if len(digits) == 64 and _HEX.issuperset(digits):
        return ALGORITHM if digits is not checksum else "sha256"
    raise ValueError(
        f"{checksum[:80]!r} is not an artifact checksum: expected 'blake3:' and 64 hex "
        "digits (or 64 hex digits, a sha256 checksum from an older Flowy)"
    )


def short(checksum: str, digits: int = 12) -> str:
    """A checksum abbreviated for people: the algorithm's prefix kept, ``digits`` hex digits."""
    prefix, _, hexdigits = checksum.rpartition(":")
    return f"{prefix}:{hexdigits[:digits]}" if prefix else hexdigits[:digits]


class Checksum:
    """One checksum being computed, in the algorithm of ``recorded`` (default BLAKE3).

    ``update`` hashes in the calling thread; ``update_while`` hashes on a helper
    thread (started on first use, stopped by :meth:`close`) while a callback does
    I/O. Pieces are hashed in the order they are given.
    """

    def __init__(self, recorded: str | None = None) -> None:
        self._legacy = recorded is not None and algorithm_of(recorded) == "sha256"
        self._hash: Any = _sha256() if self._legacy else _blake3()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[Any]] = []

    def update(self, data: Any) -> None:
        """Hash ``data`` now (after every piece handed to the helper thread)."""
        self.wait()
        self._hash.update(data)

    def submit(self, view: memoryview) -> None:
        """Hash ``view`` on the helper thread; the caller keeps it unchanged until :meth:`wait`."""
        if len(view) < OVERLAP_MIN:
            self.update(view)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowy-hash")
        # One worker runs pieces in submission order, which is the order of the bytes.
        self._pending.append(self._pool.submit(self._hash.update, view))

    def wait(self) -> None:
        """Return once every submitted piece is hashed (re-raising a hashing failure)."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def update_while(self, view: memoryview, io: Callable[[], object]) -> None:
        """Hash ``view`` while ``io()`` runs in this thread (both done on return)."""
        self.submit(view)
        try:
            io()
        finally:
            self.wait()

    def value(self) -> str:
        """The checksum as recorded: ``blake3:<hex>``, or bare hex for legacy sha256."""
        self.wait()
        digest: str = self._hash.hexdigest()
        return digest if self._legacy else PREFIX + digest

    def close(self) -> None:
        """Stop the helper thread, if one was started (waits for pieces in flight)."""
        if self._pool is not None:
            try:
                self.wait()
            finally:
                self._pool.shutdown(wait=True)
                self._pool = None


def checksum_bytes(data: bytes | bytearray | memoryview) -> str:
    """The BLAKE3 checksum of ``data``, as recorded for a new artifact."""
    checksum = Checksum()
    checksum.update(data)
    return checksum.value()


def file_checksum(path: str | os.PathLike[str], recorded: str | None = None) -> str:
    """The checksum of the file at ``path`` in the algorithm of ``recorded`` (default BLAKE3).

    The file is read through one reused 1 MiB buffer (BLAKE3 hashes it without
    the GIL). Not memory-mapped: a mapping would count the whole file in the
    process's resident memory while a large artifact is being loaded.
    """
    checksum = Checksum(recorded)
    with open(path, "rb", buffering=0) as file:
        if os.fstat(file.fileno()).st_size < FILE_BUFFER:
            checksum.update(file.read())  # small (most cache hits): one read, no buffer
            return checksum.value()
        view = memoryview(bytearray(FILE_BUFFER))
        while n := file.readinto(view):
            checksum.update(view[:n])
    return checksum.value()


def mismatch(uri: str, actual: str, expected: str) -> ChecksumMismatchError:
    """The error for bytes at ``uri`` that hash to ``actual`` instead of ``expected``."""
    algorithm = algorithm_of(expected)
    return ChecksumMismatchError(
        f"Artifact {uri} is corrupted: its {algorithm} checksum is {short(actual)}... but "
        f"{short(expected)}... was recorded when it was written. It was changed or "
        "truncated after the run; re-run the step that produced it "
        "(`flowy run ... --no-cache`) to write it again."
    )
