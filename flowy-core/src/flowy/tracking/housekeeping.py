"""``flowy gc``: reclaim the disk that killed runs and old runs hold.

Three kinds of things go, in this order:

1. **Expired runs** (:mod:`flowy.tracking.retention`), deleted as ``flowy runs delete``
   deletes (:mod:`flowy.tracking.deletion`: rows in one transaction, then files), and
   only those the store agrees nobody else uses; none of a pipeline that has
   a run running (it could be about to re-use their outputs from the cache).
2. **Temporary debris**: the half-written temporary files of writes that a
   kill interrupted (:meth:`~flowy.kernel.contracts.ArtifactStore.is_temporary`).
3. **Unreferenced artifacts**: complete artifact files (and their sidecars)
   that no artifact row names: written by a step whose run was killed before
   it recorded them, or left by a deletion that was killed after its commit.
   Sidecars whose artifact is gone go too.

What is never deleted:

* anything a recorded artifact row names (its file and its sidecar);
* anything of a run that is still running (its process alive on this host, or
  any run of another host): such a run may still record what it wrote, or be
  writing it. A file belongs to a run by its sidecar or by a path component
  equal to the run's id, which the core puts in every artifact key;
* an unreferenced file of a run one of whose recorded artifacts is missing
  from the store's listing (the store may have moved: ``flowy doctor``);
* files that are not recognisably Flowy's (no sidecar, no run id in the
  path): reported, left alone.

**Running beside live runs.** The store is listed *before* the metadata is
read. A run's row is written before any of its files, so any file the listing
saw belongs to a run the later read knows, and a run that is running at the
read is spared; one that finished by then has recorded all it will.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Container, Sequence
from typing import TYPE_CHECKING

import attrs

from flowy.artifacts import sidecars
from flowy.kernel.deletion import ArtifactsInUseError
from flowy.kernel.errors import FlowyError, RunNotFoundError
from flowy.kernel.records import RUNNING
from flowy.tracking.deletion import remove_files

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, MetadataStore, StoredObject
    from flowy.tracking.retention import Retention

TEMPORARY = "temporary"
UNREFERENCED = "unreferenced"
SIDECAR = "orphan sidecar"


@attrs.frozen
class Reclaimed:
    """A file ``gc`` removes (or, with ``--dry-run``, would remove)."""

    uri: str
    size: int
    kind: str
    """:data:`TEMPORARY`, :data:`UNREFERENCED` (size includes its sidecar) or :data:`SIDECAR`."""
    run_id: str | None = None


@attrs.frozen
class ExpiredRun:
    """A run retention selected, and what became of it."""

    run_id: str
    pipeline: str
    started_at: float
    artifacts: int
    size: int
    kept_because: str | None = None
    """None when deleted (or to be); otherwise why it stays."""


@attrs.define
class GcReport:
    """What ``flowy gc`` did (or would do, with ``dry_run``)."""

    dry_run: bool
    retention: str
    expired: list[ExpiredRun] = attrs.field(factory=list)
    files: list[Reclaimed] = attrs.field(factory=list)
    left_alone: list[str] = attrs.field(factory=list)
    """Files that are not recognisably Flowy's, or belong to runs whose files went missing."""

    @property
    def freed(self) -> int:
        expired = sum(r.size for r in self.expired if r.kept_because is None)
        return expired + sum(f.size for f in self.files)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (count, bytes) over :attr:`files` and deleted expired runs."""
        totals: dict[str, tuple[int, int]] = {}
        for f in self.files:
            n, b = totals.get(f.kind, (0, 0))
            totals[f.kind] = (n + 1, b + f.size)
        gone = [r for r in self.expired if r.kept_because is None]
        if gone:
            totals["expired runs"] = (len(gone), sum(r.size for r in gone))
        return totals


def collect(
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    retention: Retention,
    *,
    dry_run: bool = False,
    now: float | None = None,
    on_file: Callable[[str], None] | None = None,
    keep: Collection[str] = (),
) -> GcReport:
    """Apply retention, then remove debris and unreferenced artifacts (module docstring).

    ``keep``: URIs that something besides this store holds (a shared cache index's live
    entries, whose artifacts another machine recorded): never deleted, as if recorded.
    """
    report = GcReport(dry_run=dry_run, retention=retention.describe())
    metadata.mark_crashed_runs()
    report.expired = _expire(
        metadata, artifacts, retention, dry_run=dry_run, now=now, on_file=on_file
    )
    try:
        objects = list(artifacts.list_objects())  # listed BEFORE the metadata is read
    except NotImplementedError as exc:
        raise FlowyError(
            f"{exc}. Expired runs were handled; temporary and unreferenced files were not."
        ) from exc
    metadata.mark_crashed_runs()
    runs = {r.run_id: r.status for r in metadata.iter_runs()}
    recorded = metadata.artifact_uris()
    for uri in keep:
        recorded.setdefault(uri, "")
    report.files, report.left_alone = _classify(artifacts, objects, runs, recorded)
    if not dry_run:
        for item in report.files:
            if item.kind == UNREFERENCED:
                remove_files(artifacts, [item.uri])
            else:
                artifacts.delete(item.uri)
            if on_file is not None:
                on_file(item.uri)
    return report


def _expire(
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    retention: Retention,
    *,
    dry_run: bool,
    now: float | None,
    on_file: Callable[[str], None] | None,
) -> list[ExpiredRun]:
    """Delete the runs retention expires, leaving those the store refuses (in use)."""
    from flowy.tracking.retention import expired_runs

    runs = list(metadata.iter_runs())
    expired = {r.run_id: r for r in expired_runs(runs, retention, now)}
    # A running run may be about to re-use (cache hit) an expired run's outputs of its
    # pipeline: those wait for the next collection.
    busy = {r.pipeline for r in runs if r.status == RUNNING}
    kept = {
        run_id: "a run of its pipeline is running (it may re-use these outputs)"
        for run_id, run in expired.items()
        if run.pipeline in busy
    }
    candidates = [r for r in expired if r not in kept]
    result = None
    while candidates:
        try:
            result = metadata.delete_runs(candidates, dry_run=dry_run)
            break
        except ArtifactsInUseError as exc:
            # Keep each run whose artifacts a survivor uses, then try the rest again.
            for use in exc.uses:
                kept.setdefault(use.owner_run, f"{use.used_by}: {use.detail}")
            why = "in use (see `flowy runs delete`)"
        except RunNotFoundError:
            # Deleted meanwhile (a concurrent `runs delete` or gc): go on without it.
            for run_id in candidates:
                if not _exists(metadata, run_id):
                    kept[run_id] = "deleted meanwhile by another command"
            why = "not found"
        remaining = [r for r in candidates if r not in kept]
        if len(remaining) == len(candidates):  # the store named none of them: stop, keep all
            kept.update(dict.fromkeys(candidates, why))
            remaining = []
        candidates = remaining
    sizes: dict[str, list[int]] = {}
    if result is not None:
        for ref in result.artifacts:
            sizes.setdefault(_run_of(ref.uri, expired) or "", []).append(ref.size)
        if not dry_run:
            remove_files(artifacts, [a.uri for a in result.artifacts], on_file=on_file)
    return [
        ExpiredRun(
            run.run_id,
            run.pipeline,
            run.started_at,
            len(sizes.get(run.run_id, [])),
            sum(sizes.get(run.run_id, [])),
            kept.get(run.run_id),
        )
        for run in expired.values()
    ]


def _exists(metadata: MetadataStore, run_id: str) -> bool:
    try:
        return metadata.get_run(run_id).run_id == run_id
    except RunNotFoundError:
        return False


def _run_of(uri: str, runs: Container[str]) -> str | None:
    """The run id among ``runs`` that is a component of ``uri``'s path, if any."""
    for part in uri.replace("\\", "/").split("/"):
        if part in runs:
            return part
    return None


def _classify(
    artifacts: ArtifactStore,
    objects: Sequence[StoredObject],
    runs: dict[str, str],
    recorded: dict[str, str],
) -> tuple[list[Reclaimed], list[str]]:
    """Split the listing into what goes and what is left alone (module docstring)."""
    listed = {o.uri: o for o in objects}
    live = {run_id for run_id, status in runs.items() if status == RUNNING}
    # Runs with a recorded artifact missing from the listing: the store may have moved.
    unsure = {run_id for uri, run_id in recorded.items() if uri not in listed}
    doomed: list[Reclaimed] = []
    alone: list[str] = []
    for obj in objects:
        uri = obj.uri
        if uri in recorded:
            continue
        if artifacts.is_temporary(uri):
            owner = _run_of(uri, runs)
            if owner is None:
                alone.append(uri)
            elif owner not in live:
                doomed.append(Reclaimed(uri, obj.size, TEMPORARY, owner))
            continue
        if sidecars.is_sidecar(uri):
            target = sidecars.artifact_of(uri)
            if target in recorded or target in listed:
                continue  # kept with its artifact, or handled with it below
            owner = _owner(artifacts, uri, uri, runs)
            if owner is not None and owner not in live and owner not in unsure:
                doomed.append(Reclaimed(uri, obj.size, SIDECAR, owner))
            elif owner is None:
                alone.append(uri)
            continue
        side = sidecars.sidecar_uri(uri)
        owner = _owner(artifacts, uri, side if side in listed else None, runs)
        if owner is None or owner in unsure:
            alone.append(uri)
        elif owner not in live:
            size = obj.size + (listed[side].size if side in listed else 0)
            doomed.append(Reclaimed(uri, size, UNREFERENCED, owner))
    return doomed, alone


def _owner(
    artifacts: ArtifactStore, uri: str, side: str | None, runs: dict[str, str]
) -> str | None:
    """Who wrote ``uri``: its sidecar's run, else a known run id in its path, else None."""
    if side is not None:
        with contextlib.suppress(sidecars.SidecarError):
            run_id = sidecars.read_sidecar(artifacts, side).run_id
            if run_id:
                return run_id
    return _run_of(uri, runs)
