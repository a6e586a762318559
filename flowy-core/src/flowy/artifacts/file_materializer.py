"""Files logged with ``flowy.log_artifact``: stored byte for byte, read back as bytes.

A logged file is not a Python object the step returned, so no materializer is
chosen by type: :func:`write_file_artifact` streams the file into the store
(hashing as it copies, like every artifact) and records it as written by the
``file`` materializer, which claims no types and is only ever used by name to
read such an artifact back.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.artifacts.store_io import CHUNK, WRITE_BUFFER, HashingWriter, write_with_sidecar
from flowy.kernel.contracts import Materializer
from flowy.kernel.records import ArtifactRef

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore
    from flowy.kernel.records import StepTask


class FileMaterializer(Materializer):
    """Raw file bytes; loading returns ``bytes`` (the file's name is in the metadata)."""

    name = "file"
    version = "1"

    def accepts(self, obj: Any) -> bool:
        return isinstance(obj, bytes)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        file.write(obj)
        return {"filename": "", "length": len(obj)}

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        return file.read()


def write_file_artifact(
    store: ArtifactStore, key: str, name: str, source: Path, origin: StepTask | None = None
) -> ArtifactRef:
    """Copy ``source`` into ``store`` at ``key`` (atomically, with its checksum and sidecar)."""
    uri = store.uri_for(key)  # the whole key: flowy.artifacts.keys.logged_key keeps names unique
    media_type = mimetypes.guess_type(source.name)[0]
    with store.open_write(uri) as raw, source.open("rb") as src, HashingWriter(raw) as writer:
        buffered = io.BufferedWriter(writer, buffer_size=WRITE_BUFFER)
        while chunk := src.read(CHUNK):
            buffered.write(chunk)
        buffered.flush()
        ref = ArtifactRef(
            name=name,
            uri=uri,
            checksum=writer.checksum(),
            size=writer.size,
            materializer=FileMaterializer.name,
            materializer_version=FileMaterializer.version,
            type_name="builtins.bytes",
            metadata={"logged": True, "filename": source.name, "media_type": media_type},
        )
        write_with_sidecar(store, ref, origin)
    return ref
