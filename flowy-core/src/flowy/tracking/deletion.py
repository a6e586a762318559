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

What a deletion returns and refuses with (:class:`~flowy.kernel.deletion.DeletionResult`,
:class:`~flowy.kernel.deletion.ArtifactsInUseError`, ...) are kernel records, since every
metadata store speaks them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from flowy.artifacts.sidecars import sidecar_uri
from flowy.kernel.deletion import DeletionResult, RunStillRunningError
from flowy.kernel.records import RUNNING

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, MetadataStore


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
    for uri in uris:
        artifacts.delete(uri)
        with contextlib.suppress(ValueError):
            artifacts.delete(sidecar_uri(uri))
        if on_file is not None:
            on_file(uri)
