"""Streaming, atomic S3 object I/O on s3fs's async client.

Why not ``s3fs.S3FileSystem.open``: fsspec's buffered file commits on
``close()``, and ``__exit__`` closes even when the ``with`` block raised, so a
failing materializer would publish half an artifact. And it uploads parts one
at a time. :class:`MultipartWriter` instead

* buffers up to ``chunk_size`` bytes; an object that stays under
  ``multipart_threshold`` is sent with one ``PutObject`` when the block exits;
* past the threshold, starts a multipart upload and sends each full chunk as
  a part, up to ``concurrency`` parts in flight (memory stays bounded at about
  ``(concurrency + 1) * chunk_size``, whatever the artifact's size);
* completes the upload only on a clean exit; on any error (the block's, a
  part's, the completion's) it aborts the upload, so S3 keeps no parts.

S3 makes a ``PutObject`` or a completed multipart upload visible all at once
and keeps serving the old version until then, which is the atomicity the
artifact-store contract asks for, without a temporary key or a copy.

:class:`RangeReader` reads with parallel ranged GETs pinned to the object's
ETag (an overwrite mid-read is an error, never a mix of two versions),
prefetching up to ``concurrency`` chunks ahead.
"""

from __future__ import annotations

import asyncio
import collections
import io
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from flowy_aws.errors import AwsError, error_code

Translate = Callable[[BaseException, str], AwsError]


class _Loop:
    """Runs s3fs coroutines on its event loop from this (synchronous) thread."""

    def __init__(self, fs: Any, retries: int) -> None:
        self.fs = fs
        self.retries = retries

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.fs.loop)

    def call(self, method: str, **kwargs: Any) -> Any:
        return self.submit(self.fs._call_s3(method, **kwargs)).result()


class MultipartWriter(io.RawIOBase):
    """A write-only file whose bytes become one S3 object on :meth:`commit`."""

    def __init__(
        self,
        fs: Any,
        bucket: str,
        key: str,
        *,
        extra: dict[str, Any],
        threshold: int,
        chunk_size: int,
        concurrency: int,
        retries: int,
        translate: Translate,
    ) -> None:
        self._loop = _Loop(fs, retries)
        self.bucket = bucket
        self.key = key
        self._extra = extra
        self._threshold = max(threshold, 1)
        self._chunk = chunk_size
        self._concurrency = max(concurrency, 1)
        self._translate = translate
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._inflight: collections.deque[tuple[int, Future[Any]]] = collections.deque()
        self.size = 0

    # -- file protocol -------------------------------------------------------

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self.size += len(view)
        limit = self._chunk if self._upload_id is not None else max(self._threshold, self._chunk)
        if len(self._buffer) >= limit:
            self._send_part()
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        """Nothing becomes visible before :meth:`commit`, so there is nothing to flush."""

    # -- upload --------------------------------------------------------------

    def _send_part(self) -> None:
        if self._upload_id is None:
            try:
                mpu = self._loop.call(
                    "create_multipart_upload", Bucket=self.bucket, Key=self.key, **self._extra
                )
            except Exception as exc:
                raise self._translate(exc, "start a multipart upload") from exc
            self._upload_id = mpu["UploadId"]
        body = bytes(self._buffer)
        self._buffer.clear()
        number = len(self._parts) + len(self._inflight) + 1
        future = self._loop.submit(self._upload_part(number, body))
        self._inflight.append((number, future))
        while len(self._inflight) > self._concurrency:
            self._collect_oldest()

    async def _upload_part(self, number: int, body: bytes) -> dict[str, Any]:
        kwargs = {
            "Bucket": self.bucket,
            "Key": self.key,
            "UploadId": self._upload_id,
            "PartNumber": number,
            "Body": body,
        }
        for key in ("SSECustomerAlgorithm", "SSECustomerKey"):
            if key in self._extra:
                kwargs[key] = self._extra[key]
        result: dict[str, Any] = await self._loop.fs._call_s3("upload_part", **kwargs)
        return result

    def _collect_oldest(self) -> None:
        number, future = self._inflight.popleft()
        try:
            result = future.result()
        except Exception as exc:
            raise self._translate(exc, f"upload part {number}") from exc
        self._parts.append({"PartNumber": number, "ETag": result["ETag"]})

    def commit(self) -> None:
        """Publish the object (PutObject, or the last part and CompleteMultipartUpload)."""
        if self._upload_id is None:
            try:
                self._loop.call(
                    "put_object",
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=bytes(self._buffer),
                    **self._extra,
                )
            except Exception as exc:
                raise self._translate(exc, "upload the artifact") from exc
            self._buffer.clear()
            return
        if self._buffer or (not self._parts and not self._inflight):
            self._send_part()
        while self._inflight:
            self._collect_oldest()
        try:
            self._loop.call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": sorted(self._parts, key=lambda p: p["PartNumber"])},
            )
        except Exception as exc:
            raise self._translate(exc, "complete the multipart upload") from exc
        self._upload_id = None

    def abort(self) -> None:
        """Drop everything written: wait for parts in flight, then abort the upload."""
        self._buffer.clear()
        while self._inflight:
            _, future = self._inflight.popleft()
            try:
                future.result()
            except Exception:  # noqa: BLE001 - the upload is being abandoned anyway
                pass
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            try:
                self._loop.call(
                    "abort_multipart_upload", Bucket=self.bucket, Key=self.key, UploadId=upload_id
                )
            except Exception as exc:
                from flowy_aws.errors import is_not_found

                if not is_not_found(exc) and "NoSuchUpload" not in str(exc):
                    raise self._translate(
                        exc,
                        f"abort multipart upload {upload_id} (a bucket lifecycle rule "
                        "AbortIncompleteMultipartUpload cleans it up; `flowy aws check` "
                        "verifies one exists)",
                    ) from exc


class RangeReader(io.RawIOBase):
    """A read-only file over one S3 object version, fetched in parallel ranges."""

    def __init__(
        self,
        fs: Any,
        bucket: str,
        key: str,
        *,
        size: int,
        etag: str,
        chunk_size: int,
        concurrency: int,
        retries: int,
        translate: Translate,
        extra: dict[str, Any],
    ) -> None:
        self._loop = _Loop(fs, retries)
        self.bucket = bucket
        self.key = key
        self.size = size
        self._etag = etag
        self._chunk = max(chunk_size, 1)
        self._concurrency = max(concurrency, 1)
        self._translate = translate
        self._extra = extra
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
        last: BaseException | None = None
        for _ in range(self._loop.retries + 1):
            try:
                resp = await self._loop.fs._call_s3(
                    "get_object",
                    Bucket=self.bucket,
                    Key=self.key,
                    IfMatch=self._etag,
                    Range=f"bytes={start}-{end - 1}",
                    **self._extra,
                )
                body = resp["Body"]
                try:
                    data: bytes = await body.read()
                finally:
                    body.close()
                if len(data) != end - start:
                    raise OSError(f"short read: {len(data)} of {end - start} bytes")
                return data
            except Exception as exc:
                if error_code(exc):  # S3 answered (403, 404, 412...): retrying will not help
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
            if "PreconditionFailed" in str(exc) or "412" in str(exc):
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

    def read(self, size: int = -1) -> bytes:
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
