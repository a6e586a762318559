"""Deleting runs and their artifacts, crash-safe: rows first, files after.

A metadata row and an artifact file live in two systems that no transaction
spans, so a deletion has an order, and a kill between its two halves leaves
one of two intermediate states. We choose the one that no reader can see:

1. **Rows, in one transaction** (:meth:`~flowy.kernel.contracts.MetadataStore.delete_runs`):
   the runs, their step runs, metrics, params, artifacts, lineage edges, tags
   and cache entries, all or nothing. The same transaction first checks who
   else uses those artifacts and refuses (nothing deleted) unless forced.
2. **Files, afterwards** (:func:`remove_files`): each artifact's file, then
   its sidecar (:mod:`flowy.artifacts.sidecars`).

A kill before the commit leaves every row and every file: the deletion did
not happen. A kill after it leaves files that no row names any more: exactly
the *unreferenced artifacts* that ``flowy gc`` finds and removes (they carry a
sidecar naming a run that is not running). So at no moment does a row name a
missing file, and after the next ``flowy gc`` each artifact has its row and its
file, or neither. The other order (files to a trash name first, rows after)
would leave rows naming files that are gone until a recovery step ran: a
reader in between would see a broken run, which is what we exclude.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, MetadataStore
    from flowy.kernel.records import ArtifactRef

#: What can use an artifact besides the run that wrote it.
USED_BY_RUN = "run"
USED_BY_MODEL = "model"
USED_BY_CACHE = "cache"


@attrs.frozen
class ArtifactUse:
    """One use of a to-be-deleted artifact by something that is not being deleted."""

    artifact_id: str
    artifact: str
    """The artifact's name (an output name)."""
    owner_run: str
    """The run that wrote it (one of those being deleted)."""
    used_by: str
    """:data:`USED_BY_RUN`, :data:`USED_BY_MODEL` or :data:`USED_BY_CACHE`."""
    detail: str
    """Who: ``run <id> step <name>``, ``model <name> v<version>``, ``cache entry of <step>``."""

    def describe(self) -> str:
        return (
            f"{self.artifact} ({self.artifact_id[:12]}) of run {self.owner_run[:12]}: {self.detail}"
        )


@attrs.frozen
class DeletionResult:
    """What :meth:`~flowy.kernel.contracts.MetadataStore.delete_runs` removed."""

    run_ids: list[str]
    artifacts: list[ArtifactRef]
    """The deleted artifact rows: their files are the caller's to remove."""
    uses_dropped: list[ArtifactUse] = attrs.field(factory=list)
    """Uses deleted with them because ``force`` was given."""


class ArtifactsInUseError(FlowyError):
    """Runs were not deleted because others still use their artifacts."""

    def __init__(self, uses: Sequence[ArtifactUse]) -> None:
        self.uses = list(uses)
        shown = "; ".join(u.describe() for u in self.uses[:5])
        more = f" (and {len(self.uses) - 5} more)" if len(self.uses) > 5 else ""
        super().__init__(
            f"Not deleted: {len(self.uses)} use(s) of these runs' artifacts would break: "
            f"{shown}{more}. Delete the runs that use them too, or pass --force to delete "
            "anyway (the uses are removed: lineage edges, model versions, cache entries)."
        )


class RunStillRunningError(FlowyError):
    """A run that is still running cannot be deleted."""


def delete_runs(
    metadata: MetadataStore,
    artifacts: ArtifactStore,
    run_ids: Sequence[str],
    *,
    force: bool = False,
    on_file: Callable[[str], None] | None = None,
) -> DeletionResult:
    """Delete ``run_ids`` (rows, then files; see the module docstring).

    Without ``force``, refused while a run of the same pipeline is running: it
    may be about to re-use (cache hit) these runs' outputs, and would fail.
    """
    if not force:
        _refuse_busy_pipelines(metadata, run_ids)
    result = metadata.delete_runs(run_ids, force=force)
    remove_files(artifacts, (a.uri for a in result.artifacts), on_file=on_file)
    return result


def _refuse_busy_pipelines(metadata: MetadataStore, run_ids: Sequence[str]) -> None:
    from flowy.kernel.records import RUNNING

    metadata.mark_crashed_runs()
    running = {r.pipeline: r.run_id for r in metadata.list_runs(status=RUNNING, limit=10_000)}
    doomed = {metadata.get_run(r).pipeline for r in run_ids}
    busy = sorted(doomed & set(running))
    if busy:
        raise RunStillRunningError(
            f"Not deleted: run {running[busy[0]][:12]} of pipeline {busy[0]!r} is running and "
            "may re-use these runs' outputs from the cache. Wait for it to finish, or pass "
            "--force to delete now (that run may then fail)."
        )


def remove_files(
    artifacts: ArtifactStore,
    uris: Iterable[str],
    *,
    on_file: Callable[[str], None] | None = None,
) -> None:
    """Remove each artifact's file, then its sidecar (absent files are fine).

    The file goes first: a kill in between leaves a sidecar without its file,
    which ``flowy gc`` removes and ``flowy doctor --rebuild-index`` ignores.
    """
    from flowy.artifacts.sidecars import sidecar_uri

    for uri in uris:
        artifacts.delete(uri)
        with contextlib.suppress(ValueError):
            artifacts.delete(sidecar_uri(uri))
        if on_file is not None:
            on_file(uri)
