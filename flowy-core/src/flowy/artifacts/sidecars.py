"""Sidecars: a small JSON file beside each artifact, so the index can be rebuilt.

The metadata store is the index of the artifact store. If it is lost (the
database deleted, truncated to zero bytes, restored from an old backup) the
artifacts remain but nothing says what they are. So every artifact carries its
own description, written next to it::

    <folder>/<name>                 the artifact
    <folder>/.<name>.flowy.json     its sidecar

holding the run, pipeline and step that wrote it, the output name, the
materializer and its version, the type, checksum, size, creation time, the
materializer's metadata and the URIs of the step's inputs.
``flowy doctor --rebuild-index`` (:mod:`flowy.artifacts.rebuild`) reads them back.

**Always present for a complete artifact.** The sidecar is written (itself
atomically: temporary name, then rename) *inside* the artifact's
``open_write`` block, after the bytes and their checksum are known and before
the artifact is renamed into place. A kill before that rename leaves at most a
sidecar without its artifact (``flowy gc`` removes it); a kill after it leaves
both. So any artifact visible under its final name has its sidecar.

A sidecar is hidden (leading dot) and named ``.flowy.json`` so it can never be
mistaken for an artifact: artifact names never start with a dot.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore
    from flowy.kernel.records import ArtifactRef, StepTask

SUFFIX = ".flowy.json"
FORMAT = "flowy.sidecar/1"
#: A sidecar larger than this is not Flowy's (or was tampered with): not read.
MAX_BYTES = 8 << 20


def _split(uri: str) -> tuple[str, str, str]:
    """(folder, separator, base name) of a path or URI, on ``/`` or ``\\``."""
    cut = max(uri.rfind("/"), uri.rfind("\\"))
    if cut < 0:
        return "", "", uri
    return uri[:cut], uri[cut], uri[cut + 1 :]


def sidecar_uri(uri: str) -> str:
    """Where the sidecar of the artifact at ``uri`` lives (same folder, hidden name)."""
    folder, sep, base = _split(uri)
    if not base:
        raise ValueError(f"artifact uri {uri!r} names a folder")
    return f"{folder}{sep}.{base}{SUFFIX}"


def is_sidecar(uri: str) -> bool:
    """Whether ``uri`` names a sidecar (not an artifact)."""
    base = _split(uri)[2]
    return base.startswith(".") and base.endswith(SUFFIX) and len(base) > len(SUFFIX) + 1


def artifact_of(uri: str) -> str:
    """The artifact URI a sidecar URI describes (inverse of :func:`sidecar_uri`)."""
    folder, sep, base = _split(uri)
    return f"{folder}{sep}{base[1 : -len(SUFFIX)]}"


@attrs.frozen
class Sidecar:
    """An artifact as its sidecar describes it."""

    run_id: str | None
    pipeline: str | None
    step: str | None
    name: str
    materializer: str
    materializer_version: str
    type_name: str
    checksum: str
    size: int
    created_at: float
    metadata: dict[str, Any] = attrs.field(factory=dict)
    inputs: dict[str, str] = attrs.field(factory=dict)
    """The step's input name -> the URI of the artifact it read."""

    def to_ref(self, uri: str, artifact_id: str) -> ArtifactRef:
        from flowy.kernel.records import ArtifactRef

        return ArtifactRef(
            name=self.name,
            uri=uri,
            checksum=self.checksum,
            size=self.size,
            materializer=self.materializer,
            materializer_version=self.materializer_version,
            type_name=self.type_name,
            metadata=dict(self.metadata),
            artifact_id=artifact_id,
        )


def write_sidecar(store: ArtifactStore, ref: ArtifactRef, origin: StepTask | None) -> None:
    """Write ``ref``'s sidecar (atomically). Call it before ``ref``'s own write commits."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "run_id": origin.run_id if origin else None,
        "pipeline": origin.pipeline if origin else None,
        "step": origin.step if origin else None,
        "name": ref.name,
        "materializer": ref.materializer,
        "materializer_version": ref.materializer_version,
        "type_name": ref.type_name,
        "checksum": ref.checksum,
        "size": ref.size,
        "created_at": time.time(),
        "metadata": ref.metadata,
        "inputs": {n: r.uri for n, r in origin.inputs.items()} if origin else {},
    }
    data = json.dumps(body, default=str, sort_keys=True).encode()
    with store.open_write(sidecar_uri(ref.uri)) as file:
        file.write(data)


class SidecarError(FlowyError):
    """A sidecar cannot be read or is not one Flowy wrote."""


def read_sidecar(store: ArtifactStore, uri: str) -> Sidecar:
    """The sidecar at ``uri`` (a sidecar's own URI); SidecarError when unreadable."""
    try:
        with store.open_read(uri) as file:
            data = file.read(MAX_BYTES + 1)
    except Exception as exc:
        raise SidecarError(f"cannot read sidecar {uri}: {exc}") from exc
    if len(data) > MAX_BYTES:
        raise SidecarError(f"sidecar {uri} is larger than {MAX_BYTES} bytes: not Flowy's")
    try:
        body = json.loads(data)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        return Sidecar(
            run_id=_opt_str(body.get("run_id")),
            pipeline=_opt_str(body.get("pipeline")),
            step=_opt_str(body.get("step")),
            name=str(body["name"]),
            materializer=str(body["materializer"]),
            materializer_version=str(body["materializer_version"]),
            type_name=str(body["type_name"]),
            checksum=str(body["checksum"]),
            size=int(body["size"]),
            created_at=float(body["created_at"]),
            metadata=dict(body.get("metadata") or {}),
            inputs={str(k): str(v) for k, v in dict(body.get("inputs") or {}).items()},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SidecarError(f"sidecar {uri} is malformed: {exc}") from exc


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
