"""Deleting runs, for :class:`~flowy_store_sqlite.metadata.SQLMetadataStore` (a mixin).

Implements :meth:`flowy.kernel.contracts.MetadataStore.delete_runs` and
``artifact_uris``. One write transaction (``BEGIN IMMEDIATE`` on SQLite, so
no other writer interleaves) first collects the uses of the doomed artifacts
that the doomed runs do not own, then refuses or deletes every row, children
before parents (foreign keys are on). Files are the caller's, after the
commit: :mod:`flowy.tracking.deletion` explains the order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from flowy.kernel.deletion import (
    USED_BY_CACHE,
    USED_BY_MODEL,
    USED_BY_RUN,
    ArtifactsInUseError,
    ArtifactUse,
    DeletionResult,
    RunStillRunningError,
)
from flowy.kernel.records import RUNNING
from sqlalchemy import Column, Connection, delete, select

from flowy_store_sqlite import _rows
from flowy_store_sqlite import schema as s
from flowy_store_sqlite.shared_methods import chunks

#: Bound parameters per IN list (SQLite's historic limit is 999).
CHUNK = 900


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


class DeletionQueries:
    """Run deletion and the artifact listing ``flowy gc`` compares files with."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...
        def get_run(self, run_id: str) -> Any: ...

    def artifact_uris(self) -> dict[str, str]:
        """Every recorded artifact's URI -> the id of the run that wrote it."""
        query = select(s.artifacts.c.uri, s.artifacts.c.run_id)
        with self._read() as conn:
            return {row.uri: row.run_id for row in conn.execute(query)}

    def delete_runs(
        self, run_ids: Sequence[str], *, force: bool = False, dry_run: bool = False
    ) -> DeletionResult:
        """See :meth:`flowy.kernel.contracts.MetadataStore.delete_runs`."""
        ids = sorted({self.get_run(r).run_id for r in run_ids})  # prefixes; unknown ids raise
        found: list[DeletionResult] = []
        try:
            with self._write() as conn:
                found.append(self._delete(conn, ids, force))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return found[0]

    def _delete(self, conn: Connection, ids: list[str], force: bool) -> DeletionResult:
        running = [
            r.run_id
            for chunk in chunks(ids, CHUNK)
            for r in conn.execute(
                select(s.runs.c.run_id).where(
                    s.runs.c.run_id.in_(chunk), s.runs.c.status == RUNNING
                )
            )
        ]
        if running:
            raise RunStillRunningError(
                f"Run(s) {', '.join(r[:12] for r in running)} are still running: stop them "
                "first (a run whose process died is marked crashed by `flowy runs list`)."
            )
        refs = {}
        owners: dict[str, str] = {}
        for chunk in chunks(ids, CHUNK):
            for row in conn.execute(select(s.artifacts).where(s.artifacts.c.run_id.in_(chunk))):
                mapping = row._mapping
                refs[mapping["artifact_id"]] = _rows.artifact_record(mapping)
                owners[mapping["artifact_id"]] = mapping["run_id"]
        uses = self._uses(conn, ids, refs, owners)
        if uses and not force:
            raise ArtifactsInUseError(uses)
        self._delete_rows(conn, ids, list(refs), uses)
        return DeletionResult(run_ids=ids, artifacts=list(refs.values()), uses_dropped=uses)

    def _uses(
        self, conn: Connection, ids: list[str], refs: dict[str, Any], owners: dict[str, str]
    ) -> list[ArtifactUse]:
        """Uses of the doomed artifacts by rows that are not themselves doomed."""
        doomed = set(ids)
        uses: list[ArtifactUse] = []

        def use(artifact_id: str, kind: str, detail: str) -> None:
            name = refs[artifact_id].name
            uses.append(ArtifactUse(artifact_id, name, owners[artifact_id], kind, detail))

        edges, m = s.lineage.c, s.model_versions.c
        for chunk in chunks(list(refs), CHUNK):
            for row in conn.execute(
                select(edges.artifact_id, edges.run_id, edges.step, edges.direction)
                .where(edges.artifact_id.in_(chunk))
                .order_by(edges.id)
            ):
                if row.run_id not in doomed:
                    how = "consumed by" if row.direction == "consumed" else "re-used (cache hit) by"
                    use(
                        row.artifact_id, USED_BY_RUN, f"{how} run {row.run_id[:12]} step {row.step}"
                    )
            for version in conn.execute(
                select(m.name, m.version, m.artifact_id).where(m.artifact_id.in_(chunk))
            ):
                detail = f"registered as model {version.name} v{version.version}"
                use(version.artifact_id, USED_BY_MODEL, detail)
        for chunk in chunks(ids, CHUNK):
            # A version registered by a doomed run from an artifact it re-used (not its own).
            for row in conn.execute(
                select(m.name, m.version, m.artifact_id, m.run_id).where(m.run_id.in_(chunk))
            ):
                if row.artifact_id not in refs:
                    detail = f"model {row.name} v{row.version} was registered by this run"
                    uses.append(
                        ArtifactUse(row.artifact_id, row.name, row.run_id, USED_BY_MODEL, detail)
                    )
        c = s.cache_entries.c
        for row in conn.execute(select(c.key, c.step, c.run_id, c.outputs)):
            if row.run_id in doomed:
                continue  # a deleted run's own entries go with it
            try:
                outputs = json.loads(row.outputs or "{}")
            except ValueError:
                continue
            for artifact_id in outputs.values() if isinstance(outputs, dict) else ():
                if artifact_id in refs:
                    detail = f"cache entry of step {row.step} (run {row.run_id[:12]})"
                    use(artifact_id, USED_BY_CACHE, detail)
        return uses

    def _delete_rows(
        self, conn: Connection, ids: list[str], artifact_ids: list[str], uses: list[ArtifactUse]
    ) -> None:
        """Children before parents: every foreign key holds at each statement."""
        m, c = s.model_versions.c, s.cache_entries.c
        for chunk in chunks(artifact_ids, CHUNK):
            _delete_model_versions(conn, m.artifact_id, chunk)
            conn.execute(delete(s.lineage).where(s.lineage.c.artifact_id.in_(chunk)))
            conn.execute(delete(s.artifact_tags).where(s.artifact_tags.c.artifact_id.in_(chunk)))
        if any(u.used_by == USED_BY_CACHE for u in uses):
            # Forced: other runs' entries naming deleted artifacts go too.
            doomed_ids = set(artifact_ids)
            for row in conn.execute(select(c.key, c.outputs)).all():
                try:
                    outputs = json.loads(row.outputs or "{}")
                except ValueError:
                    continue
                if isinstance(outputs, dict) and doomed_ids & set(outputs.values()):
                    conn.execute(delete(s.cache_entries).where(c.key == row.key))
        for chunk in chunks(ids, CHUNK):
            _delete_model_versions(conn, m.run_id, chunk)
            conn.execute(delete(s.cache_entries).where(c.run_id.in_(chunk)))
            tables = (s.lineage, s.metrics, s.params, s.step_runs, s.run_changes, s.step_output)
            for table in (*tables, s.run_cancel_requests):
                conn.execute(delete(table).where(table.c.run_id.in_(chunk)))
        for chunk in chunks(artifact_ids, CHUNK):
            conn.execute(delete(s.artifacts).where(s.artifacts.c.artifact_id.in_(chunk)))
        for chunk in chunks(ids, CHUNK):
            conn.execute(delete(s.runs).where(s.runs.c.run_id.in_(chunk)))


def _delete_model_versions(conn: Connection, column: Column[Any], chunk: list[str]) -> None:
    """The model versions whose ``column`` is in ``chunk``, their stage history first."""
    m, h = s.model_versions.c, s.model_stage_history.c
    for name, version in conn.execute(select(m.name, m.version).where(column.in_(chunk))).all():
        conn.execute(delete(s.model_stage_history).where(h.name == name, h.version == version))
    conn.execute(delete(s.model_versions).where(column.in_(chunk)))
