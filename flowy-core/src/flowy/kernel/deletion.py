"""What deleting runs reports and refuses with: the records and errors of a deletion.

:meth:`~flowy.kernel.contracts.MetadataStore.delete_runs` returns a
:class:`DeletionResult` and refuses with :class:`ArtifactsInUseError` (naming
each :class:`ArtifactUse`) or :class:`RunStillRunningError`; metadata stores
and the CLI both speak these, so they live in the kernel. Doing a deletion,
rows first and files after and why in that order, is
:mod:`flowy.tracking.deletion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from flowy.kernel.errors import FlowyError

if TYPE_CHECKING:
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
