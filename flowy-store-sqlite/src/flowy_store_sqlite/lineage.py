"""Lineage walks and artifact search for :class:`~flowy_store_sqlite.metadata.SQLMetadataStore`.

A mixin, so that ``metadata.py`` stays the run-recording hot path. The walk is
one recursive CTE per direction: from an artifact to the step runs that
produced it (``direction = 'produced'``), to what those consumed, and so on
(downstream swaps the two). Both hops are answered by covering indexes
(``ix_lineage_artifact_id_direction_run_id_step`` and
``ix_lineage_run_id_step_direction_artifact_id``), so a walk costs a few
index probes per edge, whatever the size of the store. Portable SQL only:
SQLite and PostgreSQL both run it.

Do not ``ANALYZE`` the lineage table on SQLite: with statistics, SQLite 3.38+
adds bloom filters to the recursive step and builds them by scanning the
indexes on every step (measured: 0.05 ms -> 45 ms for a 10-level walk among
100,000 artifacts; ``benchmarks/lineage.py`` shows both).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from flowy.kernel.catalog import ArtifactInfo, ArtifactUse, LineageGraph, StepNode
from flowy.kernel.errors import ArtifactNotFoundError, RunNotFoundError
from sqlalchemy import Connection, and_, func, literal, or_, select

from flowy_store_sqlite import _rows
from flowy_store_sqlite import schema as s
from flowy_store_sqlite.shared_methods import chunks

#: A walk stops here even if edges go on: a guard against cycles that re-used
#: cached artifacts could in theory form across pipelines.
MAX_DEPTH = 10_000
#: Bound parameters per IN list (SQLite's historic limit is 999).
CHUNK = 900

_PRODUCED, _CONSUMED = "produced", "consumed"


class LineageQueries:
    """The lineage and search half of :class:`flowy.kernel.catalog.Catalog`."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _resolve(self, conn: Connection, table: Any, col: Any, ident: str) -> Any: ...
        def _not_found(self, what: str, ident: str, found: Any, hint: str) -> str: ...

    # -- rows ----------------------------------------------------------------

    _info_columns = (*s.artifacts.c, s.runs.c.pipeline)

    def _infos(self, conn: Connection, ids: Iterable[str]) -> dict[str, ArtifactInfo]:
        ids = list(dict.fromkeys(ids))
        rows: list[Any] = []
        tags: dict[str, list[str]] = {}
        for chunk in chunks(ids, CHUNK):
            query = (
                select(*self._info_columns)
                .join(s.runs, s.runs.c.run_id == s.artifacts.c.run_id)
                .where(s.artifacts.c.artifact_id.in_(chunk))
            )
            rows.extend(conn.execute(query).mappings())
            tag_query = select(s.artifact_tags).where(s.artifact_tags.c.artifact_id.in_(chunk))
            for tag_row in conn.execute(tag_query):
                tags.setdefault(tag_row.artifact_id, []).append(tag_row.tag)
        return {r["artifact_id"]: _info(r, tags.get(r["artifact_id"], [])) for r in rows}

    def _artifact_id(self, conn: Connection, ident: str) -> str:
        found = self._resolve(conn, s.artifacts, s.artifacts.c.artifact_id, ident)
        if found is None or isinstance(found, list):
            hint = "List artifact ids with `flowy artifacts list`."
            raise ArtifactNotFoundError(self._not_found("artifact", ident, found, hint))
        return str(found["artifact_id"])

    def artifact_info(self, artifact_id: str) -> ArtifactInfo:
        """An artifact (id or unique prefix) with its producer, type and tags."""
        with self._read() as conn:
            aid = self._artifact_id(conn, artifact_id)
            return self._infos(conn, [aid])[aid]

    # -- lineage -------------------------------------------------------------

    def lineage(
        self, artifact_id: str, *, upstream: bool = True, downstream: bool = True
    ) -> LineageGraph:
        """Ancestors and/or descendants of an artifact, with the step runs in between."""
        with self._read() as conn:
            root = self._artifact_id(conn, artifact_id)
            up = _walk(conn, root, _PRODUCED, _CONSUMED) if upstream else {}
            down = _walk(conn, root, _CONSUMED, _PRODUCED) if downstream else {}
            members = {root, *up, *down}
            infos = self._infos(conn, members)
            steps = _step_nodes(
                conn, {root, *up}, {root, *down}, members, upstream=upstream, downstream=downstream
            )
        return LineageGraph(root, infos, steps, up, down)

    def artifact_uses(self, artifact_id: str) -> list[ArtifactUse]:
        """The step runs that produced or consumed an artifact, oldest first."""
        edge, run = s.lineage.c, s.runs.c
        with self._read() as conn:
            aid = self._artifact_id(conn, artifact_id)
            query = (
                select(
                    edge.run_id, run.pipeline, edge.step, edge.direction, edge.name, run.started_at
                )
                .join(s.runs, run.run_id == edge.run_id)
                .where(edge.artifact_id == aid)
                .order_by(run.started_at, edge.id)
            )
            return [ArtifactUse(*row) for row in conn.execute(query)]

    def run_artifacts(self, run_id: str) -> list[tuple[ArtifactUse, ArtifactInfo]]:
        """Every artifact a run consumed or produced, in the order the steps were recorded."""
        edge, run = s.lineage.c, s.runs.c
        with self._read() as conn:
            found = self._resolve(conn, s.runs, run.run_id, run_id)
            if found is None or isinstance(found, list):
                hint = "List run ids with `flowy runs list`."
                raise RunNotFoundError(self._not_found("run", run_id, found, hint))
            query = (
                select(edge.artifact_id, edge.step, edge.direction, edge.name)
                .where(edge.run_id == found["run_id"])
                .order_by(edge.id)
            )
            edges = conn.execute(query).all()
            infos = self._infos(conn, [e.artifact_id for e in edges])
        use = ArtifactUse
        return [
            (
                use(
                    found["run_id"],
                    found["pipeline"],
                    e.step,
                    e.direction,
                    e.name,
                    found["started_at"],
                ),
                infos[e.artifact_id],
            )
            for e in edges
            if e.artifact_id in infos
        ]

    # -- search --------------------------------------------------------------

    def search_artifacts(
        self,
        *,
        name: str | None = None,
        asset_type: str | None = None,
        tag: str | None = None,
        pipeline: str | None = None,
        run_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[ArtifactInfo]:
        """Artifacts newest first; ``name`` matches the output name or the asset's name."""
        a = s.artifacts.c
        query = (
            select(*self._info_columns)
            .join(s.runs, s.runs.c.run_id == a.run_id)
            .order_by(a.created_at.desc(), a.artifact_id.desc())
        )
        if name is not None:
            query = query.where(or_(a.name == name, a.asset_name == name))
        if asset_type is not None:
            query = query.where(a.asset_type == asset_type)
        if tag is not None:
            tagged = select(s.artifact_tags.c.artifact_id).where(s.artifact_tags.c.tag == tag)
            query = query.where(a.artifact_id.in_(tagged))
        if pipeline is not None:
            query = query.where(s.runs.c.pipeline == pipeline)
        if run_id is not None:
            query = query.where(a.run_id == run_id)
        if since is not None:
            query = query.where(a.created_at >= since)
        if until is not None:
            query = query.where(a.created_at <= until)
        with self._read() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
            ids = [r["artifact_id"] for r in rows]
            tags: dict[str, list[str]] = {}
            for chunk in chunks(ids, CHUNK):
                tag_query = select(s.artifact_tags).where(s.artifact_tags.c.artifact_id.in_(chunk))
                for tag_row in conn.execute(tag_query):
                    tags.setdefault(tag_row.artifact_id, []).append(tag_row.tag)
        return [_info(r, tags.get(r["artifact_id"], [])) for r in rows]


def _info(row: Any, tags: list[str]) -> ArtifactInfo:
    return ArtifactInfo(
        artifact=_rows.artifact_record(row),
        run_id=row["run_id"],
        step=row["step"],
        pipeline=row["pipeline"],
        created_at=row["created_at"],
        asset_type=row["asset_type"],
        asset_name=row["asset_name"],
        tags=sorted(tags),
    )


def _walk(conn: Connection, root: str, via: str, to: str) -> dict[str, int]:
    """Artifact id -> shortest distance from ``root``, following ``via`` then ``to`` edges.

    Upstream: the step runs that *produced* an artifact, then what they
    *consumed*; downstream the other way round. UNION (not UNION ALL) drops
    repeated (artifact, depth) pairs, so diamonds do not multiply rows.
    """
    hop_in, hop_out = s.lineage.alias("hop_in"), s.lineage.alias("hop_out")
    seed = select(literal(root).label("artifact_id"), literal(0).label("depth"))
    walk = seed.cte("walk", recursive=True)
    previous = walk.alias("previous")
    step = (
        select(hop_out.c.artifact_id, (previous.c.depth + 1).label("depth"))
        .select_from(
            previous.join(
                hop_in,
                and_(hop_in.c.artifact_id == previous.c.artifact_id, hop_in.c.direction == via),
            ).join(
                hop_out,
                and_(
                    hop_out.c.run_id == hop_in.c.run_id,
                    hop_out.c.step == hop_in.c.step,
                    hop_out.c.direction == to,
                ),
            )
        )
        .where(previous.c.depth < MAX_DEPTH)
    )
    walk = walk.union(step)
    query = select(walk.c.artifact_id, func.min(walk.c.depth)).group_by(walk.c.artifact_id)
    return {aid: int(depth) for aid, depth in conn.execute(query) if aid != root}


def _step_nodes(
    conn: Connection,
    produced_in: set[str],
    consumed_in: set[str],
    members: set[str],
    *,
    upstream: bool,
    downstream: bool,
) -> list[StepNode]:
    """The step runs on the walked paths, with their edges inside ``members``.

    Upstream, those are the producers of the root and its ancestors;
    downstream, the consumers of the root and its descendants.
    """
    edge = s.lineage.c
    keys: set[tuple[str, str]] = set()
    wanted = []
    if upstream:
        wanted.append((_PRODUCED, sorted(produced_in)))
    if downstream:
        wanted.append((_CONSUMED, sorted(consumed_in)))
    for direction, ids in wanted:
        for chunk in chunks(ids, CHUNK):
            query = select(edge.run_id, edge.step).where(
                edge.artifact_id.in_(chunk), edge.direction == direction
            )
            keys.update((r.run_id, r.step) for r in conn.execute(query))
    nodes: dict[tuple[str, str], StepNode] = {}
    for run_id in sorted({k[0] for k in keys}):
        steps = sorted(k[1] for k in keys if k[0] == run_id)
        query = (
            select(edge.run_id, edge.step, edge.direction, edge.name, edge.artifact_id)
            .where(edge.run_id == run_id, edge.step.in_(steps))
            .order_by(edge.id)
        )
        for r in conn.execute(query):
            if r.artifact_id not in members:
                continue
            node = nodes.setdefault((r.run_id, r.step), StepNode(r.run_id, r.step))
            (node.outputs if r.direction == _PRODUCED else node.inputs)[r.name] = r.artifact_id
    return list(nodes.values())
