"""The metadata store contract: the record of runs, steps, artifacts, lineage and cache.

Its own module because it is the largest contract; :mod:`flowy.kernel.contracts`
re-exports it, so ``from flowy.kernel.contracts import MetadataStore`` is the
import plugins use (the contract suite is ``flowy.testing.MetadataStoreContract``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from flowy.kernel.component import Component

if TYPE_CHECKING:
    from flowy.kernel.cache_limits import CacheLimits, Evicted
    from flowy.kernel.deletion import DeletionResult
    from flowy.kernel.records import (
        ArtifactRef,
        CacheEntry,
        MetricRecord,
        RunChange,
        RunRecord,
        StepRunRecord,
    )
    from flowy.kernel.run_query import RunPage, RunQuery

    #: What :meth:`MetadataStore.record_step` takes, for :meth:`~MetadataStore.record_step_batch`:
    #: the step run, its new artifacts, its metrics and its cache entry.
    StepRecordParts = tuple[
        StepRunRecord, Sequence[ArtifactRef], Sequence[MetricRecord], CacheEntry | None
    ]


class MetadataStore(Component, abc.ABC):
    """Keeps runs, step runs, artifacts, lineage, metrics and cache entries.

    Only the orchestrating process writes. ``record_step`` writes a step run,
    its new artifacts, its lineage edges, its metrics and its cache entry in
    one transaction: after a crash either all of it is there or none is.
    Lookups by id accept a unique prefix of at least 4 characters.
    """

    @abc.abstractmethod
    def create_run(self, run: RunRecord) -> None:
        """Record a new run (status ``running``)."""

    @abc.abstractmethod
    def finish_run(self, run_id: str, status: str, finished_at: float) -> None:
        """Set a run's final status and end time."""

    @abc.abstractmethod
    def record_step(
        self,
        step_run: StepRunRecord,
        artifacts: Sequence[ArtifactRef] = (),
        metrics: Sequence[MetricRecord] = (),
        cache_entry: CacheEntry | None = None,
    ) -> None:
        """Record a finished (or skipped) step run atomically.

        ``artifacts`` are the new artifacts it produced (each with its
        ``artifact_id`` set); ``step_run.inputs``/``outputs`` map names to
        artifact ids and become lineage edges.
        """

    def record_steps(self, step_runs: Sequence[StepRunRecord]) -> None:
        """Record several step runs that bring nothing new, in order.

        The engine batches the runs of cached steps (their outputs already exist,
        so no artifacts, metrics or cache entry come with them) and writes each
        batch before it records or submits any other step. Each is recorded as
        :meth:`record_step` would record it alone (lineage edges, a ``cached``
        run with a ``cache_key`` counts its hit). Stores that can write the
        batch in one transaction should override this: all of it is there after
        a crash, or none. The default records them one by one.
        """
        for step_run in step_runs:
            self.record_step(step_run)

    def record_step_batch(self, batch: Sequence[StepRecordParts]) -> None:
        """Record several finished step runs, each with what :meth:`record_step` takes.

        The engine hands over the runs that finished while it was busy (the elements
        of a map finish many at a time) before it settles any of them. Stores that
        can write the batch in one transaction should override this: all of it is
        there after a crash, or none, and a failure leaves none of it (the engine
        then records them one by one). The default records them one by one.
        """
        for step_run, artifacts, metrics, cache_entry in batch:
            self.record_step(step_run, artifacts, metrics, cache_entry)

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id or unique prefix; RunNotFoundError otherwise."""

    @abc.abstractmethod
    def list_runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Most recent runs first."""

    @abc.abstractmethod
    def get_step_runs(self, run_id: str) -> list[StepRunRecord]:
        """The step runs of a run, in the order they were recorded."""

    @abc.abstractmethod
    def get_artifact(self, artifact_id: str) -> ArtifactRef:
        """An artifact by id or unique prefix; ArtifactNotFoundError otherwise."""

    @abc.abstractmethod
    def list_artifacts(
        self, run_id: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactRef]:
        """Artifacts, newest first, optionally of one run or with one name."""

    @abc.abstractmethod
    def get_metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]:
        """(step name, metric) pairs of a run."""

    @abc.abstractmethod
    def lookup_cache(self, key: str) -> CacheEntry | None:
        """The cache entry for ``key``, if any. A pure read: it counts nothing."""

    def lookup_cache_outputs(self, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        """The cache entry for ``key`` and the records of its outputs, by output name.

        None when there is no entry, or when one of its outputs has no artifact
        record any more (a hit could not be served). A pure read, like
        :meth:`lookup_cache`. The engine asks this once per cacheable step;
        the default is :meth:`lookup_cache` plus one :meth:`get_artifact` per
        output, and a store that can answer in one query should override it.
        """
        from flowy.kernel.errors import ArtifactNotFoundError

        entry = self.lookup_cache(key)
        if entry is None:
            return None
        refs: dict[str, ArtifactRef] = {}
        for name, artifact_id in entry.outputs.items():
            try:
                refs[name] = self.get_artifact(artifact_id)
            except ArtifactNotFoundError:
                return None
        return entry, refs

    def latest_cache_outputs(
        self, pipeline: str, steps: Sequence[str]
    ) -> dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]]:
        """The newest cache entry of each of ``steps`` with its outputs' records, by step.

        A hint read once per run, so that re-running a pipeline does not cost a
        query per step: the engine uses an entry only when its key is the key
        it computed for that step, and asks :meth:`lookup_cache_outputs` for
        anything else. Steps without an entry, or whose newest entry lost an
        output's record, are left out. The default returns nothing (every
        lookup is then made per step).
        """
        return {}

    def record_cache_hit(self, key: str) -> None:
        """Count a hit on ``key``; the engine calls it once the entry's artifacts verified."""

    # -- cache limits (``flowy cache limits``; see flowy.kernel.cache_index) -------

    def cache_limits(self) -> dict[str, CacheLimits]:
        """The cache limits set, by pipeline (``""``: every pipeline's). Default: none."""
        return {}

    def set_cache_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        """Set (None: remove) the ttl and size budget of ``pipeline``'s entries (``""``: all).

        The default raises: this store keeps no limits.
        """
        from flowy.kernel.errors import FlowyError

        raise FlowyError(
            f"this metadata store cannot limit its cache ({type(self).__name__} keeps no "
            "limits); use a store that does (sqlite, sql) or clear it with `flowy cache clear`."
        )

    def evict_cache(self, pipeline: str | None, now: float) -> list[Evicted]:
        """Delete the entries past their ttl, then the least recently used over budget.

        Of ``pipeline`` (every pipeline when None), as :meth:`cache_limits` say at
        ``now``. An entry's last use is its newest hit (a cached step's record)
        or its creation. The engine calls it once when a run starts, for the
        run's pipeline, so it must be cheap when no limits are set. Only
        entries go: their artifacts stay recorded (``flowy gc`` collects what
        nothing records). The default evicts nothing.
        """
        return []

    @abc.abstractmethod
    def last_cache_entry(self, pipeline: str, step: str) -> CacheEntry | None:
        """The newest cache entry of a step, used by ``flowy cache explain``."""

    @abc.abstractmethod
    def delete_cache(self, pipeline: str | None = None, step: str | None = None) -> int:
        """Delete matching cache entries (all when both are None); return the count."""

    @abc.abstractmethod
    def cache_stats(self) -> dict[str, Any]:
        """Entries, hits recorded, and per-pipeline counts."""

    def get_logs(self, run_id: str, step: str | None = None) -> dict[str, str]:
        """Captured output by step name (default: read from the step runs)."""
        return {
            r.step: r.logs for r in self.get_step_runs(run_id) if step is None or r.step == step
        }

    def mark_crashed_runs(self) -> int:
        """Mark runs whose orchestrating process died as ``crashed``; return how many.

        Stores that can tell (the SQL store checks the recorded pid on this
        host) override this; the default knows nothing and marks none.
        """
        return 0

    def iter_runs(self) -> Iterator[RunRecord]:
        """Every run, newest first (default: one big ``list_runs``)."""
        yield from self.list_runs(limit=1_000_000_000)

    # -- deletion and listing (``flowy runs delete``, ``flowy gc``) ---------------

    def has_runs(self) -> bool:
        """Whether any run is recorded (checked on every open; keep it cheap)."""
        return bool(self.list_runs(limit=1))

    def artifact_uris(self) -> dict[str, str]:
        """Every recorded artifact's URI and the run that wrote it: what gc never deletes.

        The default reads :meth:`list_artifacts` and the step runs that
        produced each; a store that can answer in one query should override it.
        """
        found: dict[str, str] = {}
        for run in self.iter_runs():
            for artifact in self.list_artifacts(run_id=run.run_id, limit=1_000_000_000):
                found[artifact.uri] = run.run_id
        return found

    def delete_runs(
        self, run_ids: Sequence[str], *, force: bool = False, dry_run: bool = False
    ) -> DeletionResult:
        """Delete runs and everything recorded for them, in one transaction.

        Rows go: the runs, their params, step runs, metrics, artifacts (with
        tags and lineage edges) and the cache entries they created. Before
        anything is deleted, the uses of those artifacts that the deleted runs
        do not own are collected (:class:`flowy.kernel.deletion.ArtifactUse`): a step
        run of another run that consumed or re-used one (a cache hit), a
        registered model version, another run's cache entry. Without ``force``
        any such use raises :class:`flowy.kernel.deletion.ArtifactsInUseError` and
        nothing is deleted; with ``force`` the uses go too (lineage edges,
        model versions, cache entries). Runs still ``running`` are refused
        either way. Unknown ids raise RunNotFoundError (prefixes as in
        :meth:`get_run`).

        Only rows are deleted: the caller removes the returned artifacts'
        files afterwards (see :mod:`flowy.tracking.deletion` for why in that order).
        With ``dry_run`` everything is checked and reported, nothing deleted.
        Optional; the default raises NotImplementedError.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot delete runs")

    # -- live view: the change feed, running steps, cancelling (``flowy ui``) -----

    def record_step_started(self, run_id: str, step: str, started_at: float) -> None:
        """Note that ``step`` of ``run_id`` was handed to the executor at ``started_at``.

        The engine calls it for every step it submits (cached, re-used and
        skipped steps never start), so that a live view shows what is running
        before its record is written. The step's later :meth:`record_step`
        supersedes it. The default notes nothing: the step is then seen only
        once it is recorded.
        """

    def running_steps(self, run_id: str) -> list[tuple[str, float]]:
        """``(step, started_at)`` of the steps of ``run_id`` started and not yet recorded.

        In the order they started. The default (a store that does not keep
        starts, see :meth:`record_step_started`) knows of none.
        """
        return []

    def append_step_output(self, run_id: str, step: str, text: str) -> None:
        """Add ``text`` to the live output of ``step`` of ``run_id``, which is running.

        The engine calls it with what a running step printed (at most about
        twice a second per step, see :meth:`~flowy.kernel.contracts.WorkerRuntime.report_output`),
        so a live view can show the step's log before the step ends. It is the
        live tail only: the step's :meth:`record_step` (with the full log) drops
        it in the same transaction, and :meth:`delete_runs` drops it with its run.
        A store that keeps a change feed adds an ``output`` change (a
        :class:`~flowy.kernel.records.RunChange` of kind ``output``, status
        ``running``) so that viewers refresh. The default keeps nothing.
        """

    def step_output(self, run_id: str, step: str) -> str:
        """The live output of a running step so far (see :meth:`append_step_output`).

        Empty when the step printed nothing yet, is recorded already (its
        record's ``logs`` hold the full log then), or the store keeps none
        (the default).
        """
        return ""

    def changes_since(self, seq: int, limit: int = 1000) -> list[RunChange]:
        """The changes to runs and steps after sequence number ``seq``, oldest first.

        Every write that changes what a live view shows (a run created,
        finished, crashed or asked to cancel; a step started or recorded)
        adds a :class:`~flowy.kernel.records.RunChange` with a growing ``seq``
        in the same transaction as the write itself, whichever process wrote
        it. A reader keeps the last ``seq`` it saw and asks again: one cheap
        query however many runs there are. At most ``limit`` come back.
        The default returns none: a store without a feed makes ``flowy ui``
        fall back to polling the newest runs.
        """
        return []

    def latest_change(self) -> int:
        """The newest change's sequence number (0 when none, or without a feed)."""
        return 0

    def request_cancel(self, run_id: str, requested_by: str) -> bool:
        """Ask the process running ``run_id`` to cancel it; True when newly asked.

        The orchestrator polls :meth:`cancel_requested` while the run goes and
        ends it as ``cancelled``, as Ctrl-C does. False when the run already
        had a request. The run must be ``running`` (a finished one raises
        :class:`~flowy.kernel.errors.FlowyError`); unknown ids raise
        RunNotFoundError. The default raises: this store cannot cancel runs.
        """
        from flowy.kernel.errors import FlowyError

        raise FlowyError(
            f"this metadata store cannot cancel runs ({type(self).__name__} keeps no cancel "
            "requests); stop the run with Ctrl-C in the process that runs it."
        )

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked to cancel ``run_id`` (default: never; keep it cheap)."""
        return False

    # -- the runs list: filter, sort, keyset pages (flowy ui, flowy runs list --filter) --

    def search_runs(self, query: RunQuery) -> RunPage:
        """A page of the runs that match ``query.filter``, in ``query.sort`` order, after a cursor.

        The semantics (how each field compares, where runs without a value sort,
        the tie-breakers that make a cursor exact) are in
        :mod:`flowy.kernel.run_query`. ``next_cursor`` is the sort key of the
        page's last run when more runs follow: passed back as ``after``, the next
        page neither repeats nor skips a run, even while new runs are added.
        The default reads every run (and their metrics when the query names one)
        and filters in Python (:mod:`flowy.kernel.run_query_eval`): correct
        everywhere, slow on big stores; stores that can query should override it.
        """
        from flowy.kernel.run_query_eval import search

        return search(self, query)

    def run_columns(self, limit: int = 500) -> dict[str, list[str]]:
        """Names of recorded parameters and metrics, ``{"params": [...], "metrics": [...]}``.

        Sorted, at most ``limit`` of each: what a runs list offers as columns. The
        default looks at the newest 200 runs only; stores should override it with
        a query over every run.
        """
        params: set[str] = set()
        metric_names: set[str] = set()
        for run in self.list_runs(limit=200):
            params.update(run.params)
            metric_names.update(m.name for _, m in self.get_metrics(run.run_id))
        return {"params": sorted(params)[:limit], "metrics": sorted(metric_names)[:limit]}
