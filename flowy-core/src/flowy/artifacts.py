"""Writing and reading artifacts: materializer + store + checksum, in one pass.

Stores only move bytes; this module is where every artifact, on every store,
gets its sha256 checksum (computed while the materializer writes, so a large
object is never read twice) and where every load is verified. A load whose
bytes do not hash to the recorded checksum raises
:class:`~flowy.errors.ChecksumMismatchError` before the object is returned:
never wrong data.
"""

from __future__ import annotations

import hashlib
import io
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.errors import ChecksumMismatchError, UnsafeArtifactError
from flowy.records import ArtifactRef

if TYPE_CHECKING:
    from flowy.contracts import ArtifactStore
    from flowy.materializers import MaterializerRegistry

CHUNK = 1 << 20

_UNSAFE_LOAD: ContextVar[bool] = ContextVar("flowy_unsafe_load", default=False)


def unsafe_load_allowed() -> bool:
    """Whether the artifact now being loaded was opted in with ``allow_pickle``.

    A safe materializer refuses files that need code to load (an object-dtype
    .npy, an untrusted skops type, a Keras Lambda layer); it reads this to let
    the same opt-in that loads pickle artifacts load those too.
    """
    return _UNSAFE_LOAD.get()


class HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.sha256.update(view)
        self._target.write(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._target.flush()


class HashingReader(io.RawIOBase):
    """A read-only file that hashes what is read; :meth:`verify` checks the total."""

    def __init__(self, source: BinaryIO, expected: str, uri: str) -> None:
        self._source = source
        self._expected = expected
        self._uri = uri
        self.sha256 = hashlib.sha256()
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = self._source.readinto(view)  # type: ignore[attr-defined]
        if n:
            self.sha256.update(view[:n])
            self.position += n
        return n or 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read() if size is None or size < 0 else self._source.read(size)
        self.sha256.update(data)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def verify(self) -> None:
        """Hash whatever the materializer did not read, then compare."""
        while chunk := self._source.read(CHUNK):
            self.sha256.update(chunk)
        actual = self.sha256.hexdigest()
        if actual != self._expected:
            raise ChecksumMismatchError(
                f"Artifact {self._uri} is corrupted: its sha256 is {actual[:12]}... but "
                f"{self._expected[:12]}... was recorded when it was written. It was changed "
                "or truncated after the run; re-run the step that produced it "
                "(`flowy run ... --no-cache`) to write it again."
            )


def write_artifact(
    store: ArtifactStore,
    key: str,
    name: str,
    obj: Any,
    materializers: MaterializerRegistry,
    *,
    allow_pickle: bool = False,
) -> ArtifactRef:
    """Materialize ``obj`` into ``store`` at ``key``; return its reference.

    An asset (:mod:`flowy.assets`) is unwrapped: its value is materialized as
    usual and its description goes into the metadata under ``flowy_asset``.
    """
    from flowy.assets import ASSET_KEY, Asset

    asset = obj if isinstance(obj, Asset) else None
    if asset is not None:
        obj = asset.value
    registration, materializer = materializers.resolve(obj, allow_pickle=allow_pickle)
    uri = store.uri_for(key + registration.info.get("extension", materializer.extension))
    with store.open_write(uri) as raw:
        writer = HashingWriter(raw)
        buffered = io.BufferedWriter(writer, buffer_size=CHUNK)
        metadata = materializer.save(obj, buffered)  # type: ignore[arg-type]
        buffered.flush()
    metadata = dict(metadata or {})
    if asset is not None:
        metadata[ASSET_KEY] = asset.describe()
    cls = type(obj)
    return ArtifactRef(
        name=name,
        uri=uri,
        checksum=writer.sha256.hexdigest(),
        size=writer.size,
        materializer=registration.name,
        materializer_version=str(materializer.version),
        type_name=f"{cls.__module__}.{cls.__qualname__}",
        metadata=metadata,
    )


def read_artifact(
    store: ArtifactStore,
    ref: ArtifactRef,
    materializers: MaterializerRegistry,
    *,
    allow_pickle: bool = False,
) -> Any:
    """Load ``ref`` through the materializer that wrote it, verifying its checksum.

    An artifact written from an asset comes back as that asset around the value.
    """
    materializer = materializers.by_name(ref.materializer)
    if not materializer.safe and not allow_pickle:
        raise UnsafeArtifactError(
            f"Artifact {ref.name} ({ref.uri}) was written with the {ref.materializer!r} "
            "materializer, which can execute code when loaded. Load it only if you trust "
            "the store: opt in with `allow_pickle=True` on the step or `allow_pickle = true` "
            "in the stack's config."
        )
    with store.open_read(ref.uri) as raw:
        reader = HashingReader(raw, ref.checksum, ref.uri)
        buffered = io.BufferedReader(reader, buffer_size=CHUNK)
        token = _UNSAFE_LOAD.set(allow_pickle)
        try:
            obj = materializer.load(buffered, ref.metadata)  # type: ignore[arg-type]
        except Exception:
            # A changed file often breaks the parser first: report the real cause.
            reader.verify()
            raise
        finally:
            _UNSAFE_LOAD.reset(token)
        # Bytes the BufferedReader pre-fetched are already hashed; verify the rest.
        reader.verify()
    description = ref.metadata.get("flowy_asset") if ref.metadata else None
    if description:
        from flowy.assets import rewrap

        return rewrap(obj, description)
    return obj


def verify_artifact(store: ArtifactStore, ref: ArtifactRef) -> bool:
    """Whether ``ref`` exists and its bytes still match the checksum (used for cache hits)."""
    try:
        if not store.exists(ref.uri):
            return False
        with store.open_read(ref.uri) as raw:
            digest = hashlib.sha256()
            while chunk := raw.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == ref.checksum
    except Exception:  # noqa: BLE001 - any failure to read means "not usable": a cache miss
        return False
