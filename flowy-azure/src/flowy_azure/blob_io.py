"""Streaming, atomic block-blob I/O on the Azure SDK's async client, on adlfs's event loop.

Why not ``adlfs.AzureBlobFileSystem.open``: fsspec's buffered file commits on
``close()``, and ``__exit__`` closes even when the ``with`` block raised, so a
failing materializer would publish half an artifact; and it stages one block
at a time. :class:`BlockWriter` instead

* buffers up to ``chunk_size`` bytes; a blob that stays under ``threshold`` is
  sent with one *Put Blob* when the block exits;
* past the threshold, stages each full chunk as a block (*Put Block*), up to
  ``concurrency`` blocks in flight (memory stays at about ``(concurrency + 1)
  * chunk_size`` whatever the artifact's size);
* commits the block list (*Put Block List*) only on a clean exit. On any error
  nothing is committed: staged blocks are invisible (never listed, never
  read) and Azure discards uncommitted blocks after a week, or at the blob's
  next commit.

Azure makes a *Put Blob* or a committed block list visible all at once and
keeps serving the previous version until then: the atomicity the
artifact-store contract asks for, without a temporary blob or a copy.

:class:`RangeReader` reads with parallel ranged GETs pinned to the blob's
ETag (an overwrite mid-read is an error, never a mix of two versions),
prefetching up to ``concurrency`` chunks ahead.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import io
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from flowy_azure.errors import AzureError, error_code, root_cause

Translate = Callable[[BaseException, str], AzureError]


class Loop:
    """Runs SDK coroutines on adlfs's event loop (fsspec's I/O thread) from sync code."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.submit(coro).result()


class BlockWriter(io.RawIOBase):
    """A write-only file whose bytes become one block blob on :meth:`commit`."""

    def __init__(
        self,
        loop: Loop,
        blob: Any,
        *,
        threshold: int,
        chunk_size: int,
        concurrency: int,
        translate: Translate,
    ) -> None:
        self._loop = loop
        self._blob = blob
        self._threshold = max(threshold, 1)
        self._chunk = chunk_size
        self._concurrency = max(concurrency, 1)
        self._translate = translate
        self._buffer = bytearray()
        # Block ids must have one length per blob; a random stem keeps two writers of the
        # same blob from committing each other's blocks.
        self._stem = uuid.uuid4().hex
        self._blocks: list[str] = []
        self._staged = 0
        self._inflight: collections.deque[tuple[int, Future[Any]]] = collections.deque()
        self.size = 0

    # -- file protocol -------------------------------------------------------

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self.size += len(view)
        limit = self._chunk if self._blocks else max(self._threshold, self._chunk)
        while len(self._buffer) >= limit:
            self._stage(bytes(self._buffer[: self._chunk]))
            del self._buffer[: self._chunk]
            limit = self._chunk
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing becomes visible before :meth:`commit`, so there is nothing to flush."""

    # -- upload --------------------------------------------------------------

    def _block_id(self, number: int) -> str:
        return base64.b64encode(f"{self._stem}{number:08d}".encode()).decode()

    def _stage(self, body: bytes) -> None:
        number = len(self._blocks)
        block_id = self._block_id(number)
        self._blocks.append(block_id)
        future = self._loop.submit(self._blob.stage_block(block_id, body, length=len(body)))
        self._inflight.append((number, future))
        while len(self._inflight) > self._concurrency:
            self._collect_oldest()

    def _collect_oldest(self) -> None:
        number, future = self._inflight.popleft()
        try:
            future.result()
        except Exception as exc:
            raise self._translate(exc, f"upload block {number + 1}") from exc
        self._staged += 1

    def commit(self) -> None:
        """Publish the blob (one Put Blob, or the last block and Put Block List)."""
        if not self._blocks:
            body = bytes(self._buffer)
            try:
                self._loop.run(self._blob.upload_blob(body, length=len(body), overwrite=True))
            except Exception as exc:
                raise self._translate(exc, "upload the artifact") from exc
            self._buffer.clear()
            return
        if self._buffer:
            self._stage(bytes(self._buffer))
            self._buffer.clear()
        while self._inflight:
            self._collect_oldest()
        try:
            self._loop.run(self._blob.commit_block_list(list(self._blocks)))
        except Exception as exc:
            raise self._translate(exc, "commit the block list") from exc
        self._blocks.clear()

    def abort(self) -> None:
        """Drop everything written: wait for blocks in flight and commit nothing."""
        self._buffer.clear()
        while self._inflight:
            _, future = self._inflight.popleft()
            try:
                future.result()
            except Exception:  # noqa: BLE001 - the upload is being abandoned anyway
                pass
        self._blocks.clear()


class RangeReader(io.RawIOBase):
    """A read-only file over one blob version, fetched in parallel ranges."""

    def __init__(
        self,
        loop: Loop,
        blob: Any,
        *,
        size: int,
        etag: str,
        chunk_size: int,
        concurrency: int,
        retries: int,
        translate: Translate,
    ) -> None:
        self._loop = loop
        self._blob = blob
        self.size = size
        self._etag = etag
        self._chunk = max(chunk_size, 1)
        self._concurrency = max(concurrency, 1)
        self._retries = retries
        self._translate = translate
        self._next_fetch = 0
        self._pending: collections.deque[tuple[int, Future[bytes]]] = collections.deque()
        self._current = memoryview(b"")
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    async def _fetch(self, start: int, end: int) -> bytes:
        from azure.core import MatchConditions

        last: BaseException | None = None
        for _ in range(self._retries + 1):
            try:
                stream = await self._blob.download_blob(
                    offset=start,
                    length=end - start,
                    etag=self._etag,
                    match_condition=MatchConditions.IfNotModified,
                    max_concurrency=1,
                )
                data: bytes = await stream.readall()
                if len(data) != end - start:
                    raise OSError(f"short read: {len(data)} of {end - start} bytes")
                return data
            except Exception as exc:
                if error_code(root_cause(exc)):  # Azure answered (403, 404, 412...): final
                    raise
                last = exc  # a body cut off mid-stream: fetch the range again
        assert last is not None
        raise last

    def _fill(self) -> None:
        while len(self._pending) < self._concurrency and self._next_fetch < self.size:
            start = self._next_fetch
            end = min(start + self._chunk, self.size)
            self._pending.append((start, self._loop.submit(self._fetch(start, end))))
            self._next_fetch = end

    def _advance(self) -> bool:
        self._fill()
        if not self._pending:
            return False
        start, future = self._pending.popleft()
        try:
            data = future.result()
        except Exception as exc:
            self._cancel()
            if error_code(root_cause(exc)) in ("ConditionNotMet", "412"):
                raise self._translate(
                    exc, "read the artifact (it was overwritten while being read; read it again)"
                ) from exc
            raise self._translate(exc, f"read bytes {start}-{start + self._chunk}") from exc
        self._current = memoryview(data)
        self._fill()
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self._current and not self._advance():
            return 0
        n = min(len(view), len(self._current))
        view[:n] = self._current[:n]
        self._current = self._current[n:]
        self.position += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        out = bytearray()
        while len(out) < size:
            if not self._current and not self._advance():
                break
            take = self._current[: size - len(out)]
            out += take
            self._current = self._current[len(take) :]
        self.position += len(out)
        return bytes(out)

    def readall(self) -> bytes:
        parts = [bytes(self._current)]
        self._current = memoryview(b"")
        while self._advance():
            parts.append(bytes(self._current))
            self._current = memoryview(b"")
        data = b"".join(parts)
        self.position += len(data)
        return data

    def _cancel(self) -> None:
        while self._pending:
            self._pending.popleft()[1].cancel()

    def close(self) -> None:
        self._cancel()
        super().close()
