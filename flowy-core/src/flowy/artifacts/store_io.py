"""Writing and reading artifacts: materializer + store + checksum, in one pass.

Stores only move bytes; this module is where every artifact, on every store,
gets its checksum (BLAKE3, see :mod:`flowy.artifacts.checksums`; computed while the
materializer writes, so a large object is never read twice) and where every
load is verified. A load whose bytes do not hash to the recorded checksum
raises :class:`~flowy.kernel.errors.ChecksumMismatchError` before the object is
returned: never wrong data.

Two read paths:

* streaming (every store): the materializer reads a forward-only stream that
  hashes what passes through it; large reads are split so that hashing one
  piece (on a helper thread) overlaps reading the next;
* local file (stores whose :meth:`~flowy.kernel.contracts.ArtifactStore.local_path`
  gives a path, for materializers that implement
  :meth:`~flowy.kernel.contracts.Materializer.load_path`, e.g. Parquet, which must
  seek): the library opens the file itself while a helper thread hashes it;
  the object is returned only once the hash matched and the file was not
  replaced meanwhile. Unsafe (pickle) materializers verify before parsing.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.artifacts.checksums import (
    OVERLAP_MIN,
    PIECE,
    Checksum,
    algorithm_of,
    file_checksum,
    mismatch,
)
from flowy.artifacts.keys import extension
from flowy.kernel.assets import ASSET_KEY, PLAIN, Asset, rebuild, recorded
from flowy.kernel.errors import ChecksumMismatchError, UnsafeArtifactError
from flowy.kernel.records import ArtifactRef

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, Materializer, MaterializerResolver
    from flowy.kernel.records import StepTask

CHUNK = 1 << 20
#: What the materializer's small writes are gathered into before they are hashed and
#: written (large enough that hashing it on the helper thread pays off).
WRITE_BUFFER = PIECE

_UNSAFE_LOAD: ContextVar[bool] = ContextVar("flowy_unsafe_load", default=False)


def unsafe_load_allowed() -> bool:
    """Whether the artifact now being loaded was opted in with ``allow_pickle``.

    A safe materializer refuses files that need code to load (an object-dtype
    .npy, an untrusted skops type, a Keras Lambda layer); it reads this to let
    the same opt-in that loads pickle artifacts load those too.
    """
    return _UNSAFE_LOAD.get()


class HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it.

    A large write is hashed on a helper thread while the same bytes go to the
    store. Call :meth:`checksum` for the result and :meth:`close` when done.
    """

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._checksum = Checksum()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._checksum.update_while(view, lambda: self._target.write(view))
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._target.flush()

    def checksum(self) -> str:
        """The checksum of everything written so far (``blake3:<hex>``)."""
        return self._checksum.value()

    def close(self) -> None:
        self._checksum.close()
        super().close()


class HashingReader(io.RawIOBase):
    """A read-only file that hashes what is read; :meth:`verify` checks the total."""

    def __init__(self, source: BinaryIO, expected: str, uri: str) -> None:
        self._source = source
        self._expected = expected
        self._uri = uri
        self._checksum = _checksum_for(expected, uri)
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if len(view) < 2 * PIECE:
            n = self._source.readinto(view) or 0  # type: ignore[attr-defined]
            self._checksum.update(view[:n])
            self.position += n
            return n
        # A large read (a whole array's buffer): hash each piece on the helper thread
        # while the next one is read. The pieces are the caller's buffer, which stays
        # untouched until this call returns, after every piece is hashed.
        filled = 0
        try:
            while filled < len(view):
                n = self._source.readinto(view[filled : filled + PIECE]) or 0  # type: ignore[attr-defined]
                if not n:
                    break
                self._checksum.submit(view[filled : filled + n])
                filled += n
        finally:
            self._checksum.wait()
        self.position += filled
        return filled

    def read(self, size: int | None = -1) -> bytes:
        data = self._source.read() if size is None or size < 0 else self._source.read(size)
        self._checksum.update(data)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def verify(self) -> None:
        """Hash whatever the materializer did not read, then compare."""
        while chunk := self._source.read(PIECE):
            self._checksum.update(chunk)
        actual = self._checksum.value()
        if actual != self._expected:
            raise mismatch(self._uri, actual, self._expected)

    def close(self) -> None:
        self._checksum.close()
        super().close()


def _checksum_for(recorded: str, uri: str) -> Checksum:
    try:
        return Checksum(recorded)
    except ValueError as exc:
        raise ChecksumMismatchError(
            f"Artifact {uri} cannot be verified: {exc}. Its record was damaged or written "
            "by a newer Flowy; upgrade Flowy, or re-run the step that produced it "
            "(`flowy run ... --no-cache`)."
        ) from exc


def write_artifact(
    store: ArtifactStore,
    key: str,
    name: str,
    obj: Any,
    materializers: MaterializerResolver,
    *,
    allow_pickle: bool = False,
    origin: StepTask | None = None,
) -> ArtifactRef:
    """Materialize ``obj`` into ``store`` at ``key``; return its reference.

    An asset (:class:`flowy.kernel.assets.Asset`) is unwrapped: its value is materialized
    as usual and its description (:meth:`~flowy.kernel.assets.Asset.describe`, the facts
    each asset type derives) goes into the metadata under ``flowy_asset``.
    ``origin``, the task writing it, goes into the artifact's sidecar
    (:func:`write_with_sidecar`), so the index can be rebuilt from the files.
    """
    from flowy.artifacts.resolution import MATERIALIZER_DIST_KEY

    asset = obj if isinstance(obj, Asset) else None
    if asset is not None:
        obj = asset.value
    registration, materializer = materializers.resolve(obj, allow_pickle=allow_pickle)
    declared = registration.info.get("extension", materializer.extension)
    uri = store.uri_for(key + extension(registration.name, declared))
    with store.open_write(uri) as raw, HashingWriter(raw) as writer:
        buffered = io.BufferedWriter(writer, buffer_size=WRITE_BUFFER)
        metadata = materializer.save(obj, buffered)  # type: ignore[arg-type]
        buffered.flush()
        checksum = writer.checksum()
        metadata = dict(metadata or {})
        if asset is not None:
            metadata[ASSET_KEY] = asset.describe()
        metadata[MATERIALIZER_DIST_KEY] = registration.distribution
        cls = type(obj)
        from flowy.kernel.user_modules import importable_name  # a file's class: `pipeline.Name`

        ref = ArtifactRef(
            name=name,
            uri=uri,
            checksum=checksum,
            size=writer.size,
            materializer=registration.name,
            materializer_version=str(materializer.version),
            type_name=f"{importable_name(cls.__module__)}.{cls.__qualname__}",
            metadata=metadata,
        )
        write_with_sidecar(store, ref, origin)
    return ref


def write_with_sidecar(store: ArtifactStore, ref: ArtifactRef, origin: StepTask | None) -> None:
    """Write ``ref``'s sidecar; call it inside ``ref``'s own ``open_write`` block.

    Inside, so that the sidecar is complete before the artifact becomes
    visible: every complete artifact has one (see :mod:`flowy.artifacts.sidecars`).
    """
    from flowy.artifacts.sidecars import write_sidecar

    write_sidecar(store, ref, origin)


def reads_paths(materializer: Materializer) -> bool:
    """Whether ``materializer`` implements the optional ``load_path``."""
    from flowy.kernel.contracts import Materializer

    return type(materializer).load_path is not Materializer.load_path


def read_artifact(
    store: ArtifactStore,
    ref: ArtifactRef,
    materializers: MaterializerResolver,
    *,
    allow_pickle: bool = False,
) -> Any:
    """Load ``ref`` through the materializer that wrote it, verifying its checksum.

    An artifact written from an asset comes back as that asset around the value
    (:func:`rewrap`).
    """
    from flowy.artifacts.resolution import MATERIALIZER_DIST_KEY

    materializer = materializers.by_name(
        ref.materializer, (ref.metadata or {}).get(MATERIALIZER_DIST_KEY)
    )
    if not materializer.safe and not allow_pickle:
        raise UnsafeArtifactError(
            f"Artifact {ref.name} ({ref.uri}) was written with the {ref.materializer!r} "
            "materializer, which can execute code when loaded. Load it only if you trust "
            "the store: opt in with `@step(allow_pickle=True)` on the step that reads it, or "
            "for the whole project with `flowy config set allow_pickle true` (the "
            "`allow_pickle` setting; FLOWY_ALLOW_PICKLE=1 for one command); from Python, "
            "`Client().load(ARTIFACT_ID, allow_pickle=True)`."
        )
    token = _UNSAFE_LOAD.set(allow_pickle)
    try:
        path = store.local_path(ref.uri) if reads_paths(materializer) else None
        if path is not None:
            obj = _load_file(materializer, ref, path)
        else:
            obj = _load_stream(store, materializer, ref)
    finally:
        _UNSAFE_LOAD.reset(token)
    description = ref.metadata.get(ASSET_KEY) if ref.metadata else None
    if description:
        return rewrap(obj, description, materializers)
    return obj


def rewrap(value: Any, description: Mapping[str, Any], registry: MaterializerResolver) -> Asset:
    """The asset an artifact was written from, rebuilt around its loaded ``value``.

    Its class is the one registered for the recorded type name through the
    ``flowy_register_asset_types`` hook (flowy-core's own types and any plugin's);
    a type no installed plugin registers comes back as a
    :class:`~flowy.kernel.assets.RecordedAsset` keeping the recorded type and facts.
    """
    cls = registry.asset_class(str(description.get("type") or PLAIN))
    return recorded(value, description) if cls is None else rebuild(cls, value, description)


def _load_stream(store: ArtifactStore, materializer: Materializer, ref: ArtifactRef) -> Any:
    with store.open_read(ref.uri) as raw, HashingReader(raw, ref.checksum, ref.uri) as reader:
        buffered = io.BufferedReader(reader, buffer_size=CHUNK)
        try:
            obj = materializer.load(buffered, ref.metadata)  # type: ignore[arg-type]
        except Exception:
            # A changed file often breaks the parser first: report the real cause.
            reader.verify()
            raise
        # Bytes the BufferedReader pre-fetched are already hashed; verify the rest.
        reader.verify()
    return obj


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _load_file(materializer: Materializer, ref: ArtifactRef, path: str) -> Any:
    """Parse the local file at ``path`` while it is hashed; return it only if it verified."""
    _checksum_for(ref.checksum, ref.uri)  # a record Flowy cannot check is refused up front
    before = _identity(os.stat(path))
    if not materializer.safe or before[2] < OVERLAP_MIN:
        # Small files are hashed first (a thread costs more); unsafe ones must be.
        actual = file_checksum(path, ref.checksum)
        if actual != ref.checksum:
            raise mismatch(ref.uri, actual, ref.checksum)
        obj = materializer.load_path(path, ref.metadata)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowy-hash") as pool:
            hashed = pool.submit(file_checksum, path, ref.checksum)
            try:
                obj = materializer.load_path(path, ref.metadata)
            except Exception as exc:
                # A changed file often breaks the parser first: report the real cause.
                actual = hashed.result()
                if actual != ref.checksum:
                    raise mismatch(ref.uri, actual, ref.checksum) from exc
                raise
            actual = hashed.result()
        if actual != ref.checksum:
            raise mismatch(ref.uri, actual, ref.checksum)
    if _identity(os.stat(path)) != before:
        raise ChecksumMismatchError(
            f"Artifact {ref.uri} was replaced or changed while it was being loaded, so what "
            "was read cannot be trusted to be what was verified. Load it again."
        )
    return obj


def verify_artifact(store: ArtifactStore, ref: ArtifactRef) -> bool:
    """Whether ``ref`` exists and its bytes still match the checksum (used for cache hits)."""
    try:
        algorithm_of(ref.checksum)
        path = store.local_path(ref.uri)
        if path is not None:
            return file_checksum(path, ref.checksum) == ref.checksum
        if not store.exists(ref.uri):
            return False
        checksum = Checksum(ref.checksum)
        with store.open_read(ref.uri) as raw:
            while chunk := raw.read(PIECE):
                checksum.update(chunk)
        return checksum.value() == ref.checksum
    except Exception:  # noqa: BLE001 - any failure to read means "not usable": a cache miss
        return False
