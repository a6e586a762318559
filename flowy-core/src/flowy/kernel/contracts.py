"""What every capability must do: the abstract bases plugins implement.

The core never imports a concrete backend. It holds these contracts, and the
test suites in :mod:`flowy.testing` check real behaviour against them.

Each component class is built from a stack's options as keyword arguments.
A class may set ``Options`` to a pydantic model; the stack loader validates the
options against it (unknown keys and wrong types are errors naming the field)
before the component is constructed, and passes the validated values.

The run layer hands executors and cache strategies live objects (the step, the
worker's runtime); the kernel sees them through the protocols :class:`LiveStep`,
:class:`WorkerRuntime` and :class:`MaterializerResolver`, which
:class:`flowy.run.steps.Step`, :class:`flowy.run.worker.WorkerRuntime` and
:class:`flowy.artifacts.resolution.MaterializerRegistry` satisfy structurally.
So a backend depends on this module, never on the run layer, and the kernel
imports nothing above it. :class:`MetadataStore` lives in
:mod:`flowy.kernel.metadata_store` and is re-exported here.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, NamedTuple, Protocol

from flowy.kernel.component import Component, LazyOptions
from flowy.kernel.metadata_store import MetadataStore

if TYPE_CHECKING:
    from flowy.kernel.assets import Asset
    from flowy.kernel.records import StepRef, StepResult, StepTask
    from flowy.kernel.registry import Registration

__all__ = [
    "ArtifactStore",
    "CacheStrategy",
    "Component",
    "Executor",
    "LazyOptions",
    "LiveStep",
    "Materializer",
    "MaterializerResolver",
    "MetadataStore",
    "StoredObject",
    "UncacheableError",
    "WorkerRuntime",
]


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


class MaterializerResolver(Protocol):
    """What reading and writing artifacts asks of the materializers a run resolved.

    :class:`flowy.artifacts.resolution.MaterializerRegistry` is the implementation:
    it chooses by the object's type among the registered materializers and
    imports each one on first use.
    """

    def resolve(self, obj: Any, *, allow_pickle: bool = False) -> tuple[Registration, Materializer]:
        """The registration and instance of the materializer that writes ``obj``."""
        ...

    def by_name(self, name: str, distribution: str | None = None) -> Materializer:
        """The materializer registered as ``name`` (preferring ``distribution``'s), to read."""
        ...

    def asset_class(self, type_name: str) -> type[Asset] | None:
        """The class registered for an artifact's recorded asset type, or None."""
        ...


class WorkerRuntime(Protocol):
    """What an in-process executor's worker needs besides the task (:meth:`Executor.bind`).

    The run's artifact store and its materializers. Remote executors build their
    own on the worker from the task's ``artifact_store`` spec instead.
    """

    @property
    def artifact_store(self) -> ArtifactStore:
        """The run's artifact store, where outputs are written and inputs read."""
        ...

    @property
    def materializers(self) -> MaterializerResolver:
        """The materializers the run's plugins registered."""
        ...

    def report_retry(self, task: StepTask, result: StepResult, delay: float) -> None:
        """Tell the run, as it happens, that an attempt failed and ``task`` will be retried.

        ``result`` is the failed attempt's result, ``delay`` the seconds before the next
        attempt. The run calls the ``flowy_step_retrying`` hook (live progress shows it).
        Pass it as ``on_retry`` to :func:`flowy.run.run_with_retries`; an executor that
        retries on another machine forwards the report from there. Safe to call from any
        thread; a runtime built on a remote worker reports nowhere.
        """
        ...

    def report_output(self, task: StepTask, text: str) -> None:
        """Hand the run some of ``task``'s output while its attempt still runs.

        Where a step's printed output goes while the step runs (the live view
        of ``flowy ui``), before the whole log arrives in its result. Pass it as
        ``on_output`` to :func:`flowy.run.execute_attempt`, which calls it at
        most about twice a second with what was printed since, capped; an
        executor whose attempts run elsewhere forwards the text from there.
        Safe to call from any thread. Reporting is a view only: the step's
        result still carries its full log. A runtime that has nowhere to send
        the text ignores it.
        """
        ...


class CacheStrategy(abc.ABC):
    """Contributes one part of a step's cache key.

    ``key_part`` returns a string that changes whenever the strategy's view of
    the step changes, or raises :class:`UncacheableError` naming what could
    not be hashed (the engine then runs the step uncached, with a warning).
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def key_part(self, step: LiveStep, task: StepTask) -> str:
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
    (in process, in a pool, on a cluster, as a cloud job), attempt by attempt with
    :func:`flowy.run.execute_attempt` inside :func:`flowy.run.run_with_retries` or
    their equivalent, and resolves the future with a
    :class:`~flowy.kernel.records.StepResult`. It must honour the task's
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

    def backlog(self) -> int:
        """How many more of a map's elements may wait in the executor beyond
        :meth:`capacity`, to start the moment a worker frees up.

        Without one, a worker that finishes an element idles until the engine has
        recorded it and handed over the next; with one, the engine records the
        elements that finished meanwhile in one batch. 0 (the default) for an
        executor that starts work on submit (each submitted task is a job).
        """
        return 0

    @abc.abstractmethod
    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        """Start ``task``; ``step`` is the live step for in-process executors."""

    def shutdown(self, cancel: bool = False) -> None:
        """Stop accepting work; with ``cancel`` end running tasks now."""
