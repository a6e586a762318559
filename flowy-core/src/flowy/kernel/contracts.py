"""What every capability must do: the abstract bases plugins implement.

The core never imports a concrete backend. It holds these contracts, and the
test suites in :mod:`flowy.testing` check real behaviour against them.

Each component class is built from a stack's options as keyword arguments.
A class may set ``Options`` to a pydantic model; the stack loader validates the
options against it (unknown keys and wrong types are errors naming the field)
before the component is constructed, and passes the validated values.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, NamedTuple, Protocol

if TYPE_CHECKING:
    from flowy.kernel.deletion import DeletionResult
    from flowy.kernel.records import (
        ArtifactRef,
        CacheEntry,
        MetricRecord,
        RunRecord,
        StepRef,
        StepResult,
        StepRunRecord,
        StepTask,
    )
    from flowy.run.steps import Step
    from flowy.run.worker import WorkerRuntime


class LiveStep(Protocol):
    """What executors, cache strategies and hooks read of a step, in the orchestrating process.

    The step a pipeline defines (:class:`flowy.run.steps.Step`) satisfies it; the
    kernel names only this much of it, so a backend depends on the contract, not
    on the run layer. Everything a worker in another process needs travels in the
    :class:`~flowy.kernel.records.StepTask` instead.
    """

    @property
    def name(self) -> str:
        """The step's name, unique in its pipeline."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The decorated function (in-process executors call it; its code is hashed)."""

    @property
    def outputs(self) -> Sequence[str]:
        """The names of its outputs, in order."""

    @property
    def retry_on(self) -> tuple[type[BaseException], ...]:
        """The exception types an attempt is retried on."""

    @property
    def ref(self) -> StepRef:
        """Where a worker process finds the function again (module, qualified name, file)."""

    @property
    def register_model(self) -> Mapping[str, str]:
        """``@step(register_model=...)`` as {output name: model name}; empty when not given."""


class StoredObject(NamedTuple):
    """One object an artifact store holds, as :meth:`ArtifactStore.list_objects` reports it."""

    uri: str
    size: int
    modified: float
    """Last modification, seconds since the epoch."""


class Component:
    """Base of every stack component: options in, ``close()`` out."""

    #: Optional pydantic model validating this component's stack options.
    Options: ClassVar[Any] = None

    def close(self) -> None:
        """Release resources (connections, pools). Called once when a run ends."""


class ArtifactStore(Component, abc.ABC):
    """Stores artifact bytes. Checksums and materializers live in the core.

    Contract (checked by ``flowy.testing.ArtifactStoreContract``):

    * ``open_write(uri)`` yields a writable binary file. The object becomes
      visible at ``uri`` only when the ``with`` block exits cleanly, all at
      once (write to a temporary name, then rename or complete the upload).
      If the block raises, nothing is left at ``uri`` and no temporary debris
      remains.
    * ``open_read(uri)`` returns a readable binary file positioned at 0, or
      raises :class:`flowy.kernel.errors.ArtifactNotFoundError`.
    * ``uri_for(key)`` maps a store-relative key (``run/step/output``) to a URI.
      Keys are produced by the core and contain only ``[A-Za-z0-9._/-]``.
    * Optional: ``local_path(uri)`` names a local file that holds ``uri``'s
      bytes, so a library that must seek (Parquet) opens it directly instead
      of a copy (default: None, the core then streams through ``open_read``).
    """

    @abc.abstractmethod
    def uri_for(self, key: str) -> str:
        """The URI at which ``key`` is (or will be) stored."""

    @abc.abstractmethod
    def open_write(self, uri: str) -> AbstractContextManager[BinaryIO]:
        """Open ``uri`` for an atomic write (see the class docstring)."""

    @abc.abstractmethod
    def open_read(self, uri: str) -> BinaryIO:
        """Open ``uri`` for reading; raise ArtifactNotFoundError when absent."""

    @abc.abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether an object is stored at ``uri``."""

    @abc.abstractmethod
    def delete(self, uri: str) -> None:
        """Remove ``uri``; absent objects are not an error."""

    def local_path(self, uri: str) -> str | None:
        """A local file path holding exactly the bytes at ``uri``, or None.

        Optional. Stores whose artifacts are local files (the ``local`` store)
        return the file's path, and raise ArtifactNotFoundError when nothing
        is stored at ``uri``; remote stores return None (the default) and
        are read through :meth:`open_read`. The core only reads the file, and
        verifies its checksum before the object it holds is used.
        """
        return None

    def describe(self) -> dict[str, Any]:
        """Facts shown by ``flowy stack describe`` (root, bucket, ...)."""
        return {}

    # -- housekeeping (``flowy gc``, ``flowy doctor``); optional ----------------

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the store's root, temporary ones included, in any order.

        Optional; what ``flowy gc`` and ``flowy doctor`` need to find debris,
        unreferenced artifacts and sidecars (see :mod:`flowy.artifacts.sidecars`). The
        listing need not be a snapshot, but must include every object that was
        complete before it started. Symbolic links are left out. The default
        raises NotImplementedError: such a store cannot be collected.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot list its objects, so `flowy gc` and "
            "`flowy doctor` cannot inspect it"
        )

    def is_temporary(self, uri: str) -> bool:
        """Whether ``uri`` is the temporary name of an unfinished :meth:`open_write`.

        Optional (default: nothing is). A writer killed mid-write leaves such
        objects; ``flowy gc`` removes those of runs that are no longer running.
        """
        return False

    def holds_artifacts(self) -> bool:
        """Whether any complete object is stored (temporary ones do not count).

        Used to refuse a metadata store that lost its history while the
        artifacts of that history remain. The default asks :meth:`list_objects`
        and answers False when the store cannot list.
        """
        try:
            return any(not self.is_temporary(o.uri) for o in self.list_objects())
        except NotImplementedError:
            return False


class Materializer(abc.ABC):
    """Turns one family of Python objects into bytes and back, safely.

    Materializers are registered with the qualified names of the types they
    handle (``"numpy.ndarray"``), so choosing one never imports a framework.
    ``save`` writes through the file handle the store opened (so large objects
    stream) and returns JSON-compatible metadata that the metadata store
    records (shape, dtype, schema, statistics). ``load`` reads it back and must
    never execute code from the file unless ``safe`` is False and the user
    opted in to pickle.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    extension: ClassVar[str] = ""
    #: False when loading can execute code (pickle); needs an explicit opt-in.
    safe: ClassVar[bool] = True

    def accepts(self, obj: Any) -> bool:
        """A final check once the type matched (e.g. refuse object-dtype arrays)."""
        return True

    @abc.abstractmethod
    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        """Write ``obj`` to ``file``; return metadata describing it."""

    @abc.abstractmethod
    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        """Read the object back from ``file`` (written by ``save``)."""

    def load_path(self, path: str, metadata: Mapping[str, Any]) -> Any:
        """Optional: read the object back from the local file at ``path``.

        Implement it when the library reads a path (or must seek) faster than
        a forward-only stream, as Parquet does. When the artifact store has a
        :meth:`~ArtifactStore.local_path` for the artifact, the core calls this
        instead of :meth:`load` while it hashes the same file on another thread,
        and returns the object only once the checksum matched. The file must
        only be read. Not overriding it (the default) means :meth:`load` is
        always used.
        """
        raise NotImplementedError(f"{type(self).__name__} does not load from paths")


class CacheStrategy(abc.ABC):
    """Contributes one part of a step's cache key.

    ``key_part`` returns a string that changes whenever the strategy's view of
    the step changes, or raises :class:`UncacheableError` naming what could
    not be hashed (the engine then runs the step uncached, with a warning).
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def key_part(self, step: Step, task: StepTask) -> str:
        """This strategy's part of the cache key for ``task``."""


class UncacheableError(Exception):
    """A cache strategy could not hash something; ``what`` names it."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


class Executor(Component, abc.ABC):
    """Runs step tasks somewhere and reports step results.

    The engine walks the DAG, decides cache hits and skips, and submits each
    ready step as a :class:`~flowy.kernel.records.StepTask`. The executor runs it
    (in process, in a pool, on a cluster, as a cloud job) with
    :func:`flowy.run.worker.run_task` or its equivalent and resolves the future
    with a :class:`~flowy.kernel.records.StepResult`. It must honour the task's
    retries, backoff and timeout (a timed-out attempt is *stopped*, not
    abandoned), and never write to the metadata store.
    """

    runtime: WorkerRuntime | None = None

    def bind(self, runtime: WorkerRuntime) -> None:
        """Receive the run's artifact store and materializers before the first submit.

        In-process executors use them directly; remote executors build their own
        on the worker from the task's ``artifact_store`` spec instead.
        """
        self.runtime = runtime

    def plan(self, width: int) -> None:
        """Hear, before :meth:`capacity` is read, how many steps of this run could ever
        run at once (1 for a chain), e.g. to skip starting workers a run cannot use."""

    def capacity(self) -> int:
        """How many tasks may be in flight at once (1 = sequential)."""
        return 1

    @abc.abstractmethod
    def submit(self, task: StepTask, step: Step) -> Future[StepResult]:
        """Start ``task``; ``step`` is the live step for in-process executors."""

    def shutdown(self, cancel: bool = False) -> None:
        """Stop accepting work; with ``cancel`` end running tasks now."""


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
        files afterwards (see :mod:`flowy.kernel.deletion` for why in that order).
        With ``dry_run`` everything is checked and reported, nothing deleted.
        Optional; the default raises NotImplementedError.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot delete runs")
