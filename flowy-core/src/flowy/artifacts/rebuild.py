"""A lost index: refusing to start over silently, and rebuilding it from sidecars.

The metadata store is the index of the artifact store. When its database is
deleted or truncated to zero bytes, opening it creates a new, empty one, and
every command would carry on as if the project had never run: the artifacts
of the lost history stay on disk, invisible, until ``flowy gc`` deleted them
as unreferenced. :func:`check_index` stops that: a metadata store with no run
at all beside an artifact store that holds artifacts is refused, with an error
naming both and the ways out. ``FLOWY_ALLOW_NEW_INDEX=1`` accepts the new,
empty index (the next recorded run ends the check).

:func:`rebuild_index` (``flowy doctor --rebuild-index``) restores what the
sidecars (:mod:`flowy.artifacts.sidecars`) describe, for every run the index does not
know: the run (pipeline, first and last write time, status
:data:`RECOVERED`), one step run per step with its outputs and the lineage
edges to its inputs, and the artifacts, each verified against its checksum
first. Parameters, metrics, logs, cache entries and model versions are not in
sidecars and are not restored; the next runs rebuild the cache.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from flowy.artifacts import sidecars
from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, MetadataStore
    from flowy.kernel.records import ArtifactRef

#: The status of a run (and its step runs) restored from sidecars.
RECOVERED = "recovered"
ALLOW_ENV = "FLOWY_ALLOW_NEW_INDEX"


class IndexLostError(FlowyError):
    """The metadata store is new or empty while the artifact store holds artifacts."""


def _where(component: object) -> str:
    facts: dict[str, object] = getattr(component, "describe", dict)()
    return str(facts.get("url") or facts.get("path") or facts.get("bucket") or component)


def check_index(metadata: MetadataStore, artifacts: ArtifactStore) -> None:
    """Refuse an empty index beside a store full of artifacts (see the module docstring)."""
    if os.environ.get(ALLOW_ENV, "") not in ("", "0") or metadata.has_runs():
        return
    if not artifacts.holds_artifacts():
        return
    raise IndexLostError(
        f"The metadata database {_where(metadata)} records no runs, but the artifact store "
        f"at {_where(artifacts)} holds artifacts of earlier runs: the database was deleted, "
        "emptied or replaced, and carrying on would hide (and `flowy gc` would delete) that "
        "history. Restore the database from a backup, or rebuild what the artifacts describe "
        "with `flowy doctor --rebuild-index`. To start an empty history beside the old "
        f"files instead, set {ALLOW_ENV}=1 for one command (or move the artifact folder away)."
    )


@attrs.define
class RebuildReport:
    """What :func:`rebuild_index` restored and what it could not."""

    runs: list[str] = attrs.field(factory=list)
    steps: int = 0
    artifacts: int = 0
    skipped: list[str] = attrs.field(factory=list)
    """``uri: reason`` for each artifact not restored."""


def _artifact_id(uri: str) -> str:
    """A stable id for a restored artifact, so rebuilding twice gives the same ids."""
    return hashlib.blake2b(uri.encode(), digest_size=16).hexdigest()


def rebuild_index(
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    *,
    on_artifact: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Restore runs the index lacks from the artifacts' sidecars (module docstring)."""
    from flowy.artifacts.store_io import verify_artifact

    report = RebuildReport()
    listed = {o.uri for o in artifacts.list_objects()}
    known_runs = {r.run_id for r in metadata.iter_runs()}
    recorded = metadata.artifact_uris()
    found: dict[str, list[tuple[sidecars.Sidecar, ArtifactRef]]] = {}
    for side in sorted(u for u in listed if sidecars.is_sidecar(u)):
        uri = sidecars.artifact_of(side)
        if uri not in listed or uri in recorded:
            continue
        try:
            car = sidecars.read_sidecar(artifacts, side)
        except sidecars.SidecarError as exc:
            report.skipped.append(f"{uri}: {exc}")
            continue
        if not car.run_id or car.run_id in known_runs:
            continue
        ref = car.to_ref(uri, _artifact_id(uri))
        if not verify_artifact(artifacts, ref):
            report.skipped.append(f"{uri}: its bytes do not match the sidecar's checksum")
            continue
        found.setdefault(car.run_id, []).append((car, ref))
        if on_artifact is not None:
            on_artifact(uri)
    done: dict[str, str] = {}  # uri -> id of artifacts restored so far (lineage targets)
    for run_id, cars in sorted(found.items(), key=lambda kv: min(c.created_at for c, _ in kv[1])):
        _restore_run(metadata, run_id, cars, done, report)
    return report


def _restore_run(
    metadata: MetadataStore,
    run_id: str,
    cars: list[tuple[sidecars.Sidecar, ArtifactRef]],
    done: dict[str, str],
    report: RebuildReport,
) -> None:
    """Record one run, its step runs and their artifacts from their sidecars."""
    from flowy.kernel.records import RunRecord, StepRunRecord

    first = min(c.created_at for c, _ in cars)
    last = max(c.created_at for c, _ in cars)
    pipeline = next((c.pipeline for c, _ in cars if c.pipeline), "unknown")
    metadata.create_run(
        RunRecord(
            run_id=run_id,
            pipeline=pipeline,
            status=RECOVERED,
            started_at=first,
            environment={"recovered_by": "flowy doctor --rebuild-index"},
        )
    )
    steps: dict[str, list[tuple[sidecars.Sidecar, ArtifactRef]]] = {}
    for car, ref in cars:
        steps.setdefault(car.step or "unknown", []).append((car, ref))
    for step, outputs in sorted(steps.items(), key=lambda kv: min(c.created_at for c, _ in kv[1])):
        inputs: dict[str, str] = {}
        for car, _ in outputs:
            for name, uri in car.inputs.items():
                if uri in done:  # an input restored before it: its lineage edge too
                    inputs[name] = done[uri]
        metadata.record_step(
            StepRunRecord(
                run_id=run_id,
                step=step,
                status=RECOVERED,
                started_at=min(c.created_at for c, _ in outputs),
                finished_at=max(c.created_at for c, _ in outputs),
                inputs=inputs,
                outputs={ref.name: ref.artifact_id for _, ref in outputs},
            ),
            [ref for _, ref in outputs],
        )
        done.update({ref.uri: ref.artifact_id for _, ref in outputs})
        report.steps += 1
        report.artifacts += len(outputs)
    metadata.finish_run(run_id, RECOVERED, last)
    report.runs.append(run_id)
