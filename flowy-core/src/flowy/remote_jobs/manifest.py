"""What travels to a remote job through the artifact store: manifest, code, result.

The protocol is the same for every cloud. Layout under the store (``STAGING``
is the executor's ``staging_prefix``, under the store's own prefix)::

    STAGING/code/<sha256[:16]>/<file>.py           the pipeline module, once per content
    STAGING/<run>/<step>/<attempt>/task.json       the step manifest (written before the job)
    STAGING/<run>/<step>/<attempt>/result.json     the step result (written by the job)

The manifest is the :class:`~flowy.kernel.records.StepTask` as JSON
(:func:`flowy.kernel.records.to_dict`) plus where the code and the result go,
so a job needs nothing but the manifest's URI and read/write access to the
store: no database, no pickled function.

Everything here goes through the :class:`~flowy.kernel.contracts.ArtifactStore`
contract (``uri_for``, ``open_read``, ``open_write``, ``exists``), so any
store a cloud plugin provides (``s3``, ``gcs``, ``azure_blob``...) carries the
protocol unchanged.

Code shipping: the step's module file (``StepRef.path``, set when the pipeline
was loaded from a file) is uploaded by content hash and loaded by path inside
the job, as the local process loaded it. Steps in importable packages, and
whatever a pipeline file imports, must be installed in the job's image.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.records import StepResult, StepTask, from_dict, to_dict

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore

MANIFEST_VERSION = 1
MANIFEST_NAME = "task.json"
RESULT_NAME = "result.json"


def read_bytes(store: ArtifactStore, uri: str) -> bytes:
    """The whole object at ``uri`` (ArtifactNotFoundError when absent)."""
    with store.open_read(uri) as f:
        return f.read()


def write_bytes(store: ArtifactStore, uri: str, data: bytes) -> None:
    """Write a small object (manifest, code, result) atomically."""
    with store.open_write(uri) as f:
        f.write(data)


def staging_root(store: ArtifactStore, prefix: str) -> str:
    """The URI under which an executor stages its jobs (``prefix`` under the store's root)."""
    return store.uri_for(prefix.strip("/") or "flowy-jobs")


def module_source(task: StepTask) -> str | None:
    """The file to ship for ``task``'s step, or None when the image must provide it.

    Only steps whose module was loaded from a file (``flowy run file.py``,
    ``__main__``) carry a path; a step in an importable package is imported by
    name in the job, so that package must be installed in the image.
    """
    path = task.step_ref.path
    return path if path and os.path.isfile(path) else None


def ship_code(
    store: ArtifactStore, staging: str, task: StepTask, cache: dict[str, str]
) -> str | None:
    """Upload the step's module (once per content) and return its URI, or None."""
    source = module_source(task)
    if source is None:
        return None
    data = Path(source).read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    if digest in cache:
        return cache[digest]
    uri = f"{staging}/code/{digest}/{os.path.basename(source)}"
    if not store.exists(uri):
        write_bytes(store, uri, data)
    cache[digest] = uri
    return uri


def attempt_folder(staging: str, task: StepTask, attempt: str) -> str:
    """Where one attempt's manifest and result live (``attempt`` names the job)."""
    return f"{staging}/{task.run_id}/{task.step}/{attempt}"


def write_manifest(
    store: ArtifactStore, folder: str, task: StepTask, code_uri: str | None
) -> tuple[str, str]:
    """Write the step manifest into ``folder``; return (manifest URI, result URI)."""
    manifest_uri = f"{folder}/{MANIFEST_NAME}"
    result_uri = f"{folder}/{RESULT_NAME}"
    manifest = {
        "flowy_manifest": MANIFEST_VERSION,
        "task": to_dict(task),
        "code_uri": code_uri,
        "result_uri": result_uri,
    }
    write_bytes(store, manifest_uri, json.dumps(manifest, default=repr).encode())
    return manifest_uri, result_uri


def default_result_uri(manifest_uri: str) -> str:
    """Where a job writes its result when even its manifest cannot be read."""
    return manifest_uri.rsplit("/", 1)[0] + "/" + RESULT_NAME


def read_manifest(store: ArtifactStore, uri: str) -> tuple[StepTask, str | None, str]:
    """(task, code URI, result URI) from a manifest written by :func:`write_manifest`."""
    data: dict[str, Any] = json.loads(read_bytes(store, uri))
    version = data.get("flowy_manifest") if isinstance(data, dict) else None
    if version != MANIFEST_VERSION:
        raise ValueError(
            f"{uri} is a version {version!r} step manifest; this Flowy reads version "
            f"{MANIFEST_VERSION}. Install the same flowy-core and cloud plugin versions in "
            "the job's image as where the pipeline runs."
        )
    return from_dict(data["task"], StepTask), data.get("code_uri"), str(data["result_uri"])


def fetch_code(store: ArtifactStore, code_uri: str, task: StepTask, into: Path) -> StepTask:
    """Download the shipped module and point the task's step reference at it."""
    rel = code_uri.rsplit("/code/", 1)[-1]
    local = into / rel
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(read_bytes(store, code_uri))
    if str(local.parent) not in sys.path:
        sys.path.insert(0, str(local.parent))
    return attrs.evolve(task, step_ref=attrs.evolve(task.step_ref, path=str(local)))


def write_result(store: ArtifactStore, uri: str, result: StepResult) -> None:
    """Write the attempt's result where the orchestrator looks for it."""
    write_bytes(store, uri, json.dumps(to_dict(result), default=repr).encode())


def read_result(store: ArtifactStore, uri: str) -> StepResult | None:
    """The job's result, or None when it wrote none."""
    from flowy.kernel.errors import ArtifactNotFoundError

    try:
        data = json.loads(read_bytes(store, uri))
    except ArtifactNotFoundError:
        return None
    return from_dict(data, StepResult)
