"""Iterator inputs: a step that asks for ``Iterator[...]`` gets its input chunk by chunk.

A parameter annotated ``Iterator[X]``, ``Iterable[X]`` or ``Generator[X, ...]``
(from :mod:`collections.abc` or :mod:`typing`) receives a :class:`ChunkIterator`
instead of the loaded object. Over a chunked artifact (what a generator step
writes, see :mod:`flowy.artifacts.chunked`) it reads one chunk at a time, each
verified against its own checksum before it is yielded, the whole file's checksum
compared after the last; ``X`` chooses what each chunk becomes
(``pd.DataFrame``, ``pa.RecordBatch``, ``pa.Table``, ``np.ndarray``; anything
else, or a bare ``Iterator``, gives the chunks as they were written). Over any
other artifact it yields a list's elements (a mapped output's read one at a
time), or else the loaded object once. Every other parameter gets the whole
object, as before (a chunked artifact is then concatenated by its materializer).

The store stream is opened on the first ``next()`` and closed when the
iteration ends, fails, or the attempt ends (:func:`iterator_input` registers the
iterator's :meth:`~ChunkIterator.close` on the attempt's exit stack), so a step
that stops early, raises or hands the iterator to a generator that is never
finished leaves nothing open.
"""

from __future__ import annotations

import collections.abc
import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from flowy.artifacts.collection import Collection
from flowy.artifacts.store_io import read_artifact
from flowy.kernel.errors import FlowyError, UnsafeArtifactError

if TYPE_CHECKING:
    from flowy.artifacts.chunked import ChunkDecoding
    from flowy.kernel.contracts import WorkerRuntime
    from flowy.kernel.records import ArtifactRef, StepTask

_ITERATOR_ORIGINS = (
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
)
_ITERATOR_NAMES = frozenset({"Iterator", "Iterable", "Generator"})

#: Marks "an iterator of whatever the chunks are" (a bare or ``Any`` element type).
AS_WRITTEN: None = None


class _NotIterator:
    """The answer of :func:`wanted_chunk_type` for a parameter that wants the whole object."""


NOT_ITERATOR = _NotIterator()


def wanted_chunk_type(func: Callable[..., Any], name: str) -> type | _NotIterator | None:
    """What parameter ``name`` of ``func`` wants: :data:`NOT_ITERATOR`, or an iterator's
    element type (None for "as written")."""
    declared = getattr(func, "__annotations__", None)
    if isinstance(declared, dict) and name not in declared and inspect.isfunction(func):
        return NOT_ITERATOR  # no annotation (most steps): nothing to resolve, every attempt
    annotation = _annotation(func, name)
    if isinstance(annotation, str):  # not resolvable here: read what it says
        head = annotation.split("[", 1)[0].strip().rsplit(".", 1)[-1]
        return AS_WRITTEN if head in _ITERATOR_NAMES else NOT_ITERATOR
    origin = typing.get_origin(annotation)
    if origin is None:
        if annotation in _ITERATOR_ORIGINS:  # a bare Iterator / Iterable
            return AS_WRITTEN
        return NOT_ITERATOR
    if origin not in _ITERATOR_ORIGINS:
        return NOT_ITERATOR
    args = typing.get_args(annotation)
    element = args[0] if args else None
    return element if isinstance(element, type) and element is not Any else AS_WRITTEN


def _annotation(func: Callable[..., Any], name: str) -> Any:
    """The annotation of parameter ``name``, evaluated where possible (else its text)."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - another parameter's annotation names the unimportable
        hints = {}
    if name in hints:
        return hints[name]
    try:
        parameter = inspect.signature(func).parameters.get(name)
    except (TypeError, ValueError):
        return None
    if parameter is None or parameter.annotation is inspect.Parameter.empty:
        return None
    annotation = parameter.annotation
    if isinstance(annotation, str):
        try:
            # The step's own annotation, evaluated as typing.get_type_hints would.
            return eval(annotation, getattr(func, "__globals__", {}))
        except Exception:  # noqa: BLE001
            return annotation
    return annotation


def iterator_input(
    func: Callable[..., Any],
    task: StepTask,
    name: str,
    runtime: WorkerRuntime,
    attempt: contextlib.ExitStack,
) -> ChunkIterator | None:
    """A :class:`ChunkIterator` over ``task``'s input ``name`` when that parameter of
    ``func`` asks for an iterator (closed when ``attempt`` exits, whatever happens), else
    None: the step takes the whole object, read as usual."""
    want = wanted_chunk_type(func, name)
    if isinstance(want, _NotIterator):
        return None
    chunks = ChunkIterator(runtime, task.inputs[name], want, allow_pickle=task.allow_pickle)
    attempt.callback(chunks.close)
    return chunks


class ChunkIterator(Iterator[Any]):
    """The chunks of one artifact, read lazily (see the module docstring)."""

    def __init__(
        self, runtime: WorkerRuntime, ref: ArtifactRef, want: type | None, *, allow_pickle: bool
    ) -> None:
        self._runtime = runtime
        self._ref = ref
        self._want = want
        self._allow_pickle = allow_pickle
        self._chunks: Iterator[Any] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<ChunkIterator over {self._ref.name} ({self._ref.uri})>"

    def __iter__(self) -> ChunkIterator:
        return self

    def __next__(self) -> Any:
        if self._chunks is None:
            if self._closed:
                raise StopIteration
            self._chunks = self._open()
        return next(self._chunks)

    def close(self) -> None:
        """Stop reading: the store stream (if open) is closed now; later ``next()`` ends."""
        self._closed = True
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            chunks.close()  # type: ignore[attr-defined]
        self._chunks = iter(())

    def _open(self) -> Iterator[Any]:
        # Imported here, on a stream's first chunk: the materializer lookup (importlib.metadata)
        # and the chunk reader are not what every worker start needs.
        from flowy.artifacts.chunked import ChunkDecoding, chunk_layout
        from flowy.artifacts.resolution import MATERIALIZER_DIST_KEY

        ref = self._ref
        if chunk_layout(ref) is None:
            return self._whole()
        materializer = self._runtime.materializers.by_name(
            ref.materializer, (ref.metadata or {}).get(MATERIALIZER_DIST_KEY)
        )
        if not materializer.safe and not self._allow_pickle:
            raise UnsafeArtifactError(f"materializer {ref.materializer!r} needs allow_pickle")
        if not isinstance(materializer, ChunkDecoding):
            raise FlowyError(
                f"Artifact {ref.name} ({ref.uri}) records chunks, but its materializer "
                f"{ref.materializer!r} cannot read them one at a time. Upgrade the plugin that "
                "provides it, or take the whole object (annotate the parameter without Iterator)."
            )
        return self._decoded(materializer)

    def _decoded(self, materializer: ChunkDecoding) -> Iterator[Any]:
        from flowy.artifacts.chunked import read_chunks

        decode: list[Callable[[int, Any], Any]] = []

        def on_tail(tail: bytes | None) -> None:
            decode.append(materializer.chunk_decoder(self._ref.metadata, tail, self._want))

        # closing(): the store stream closes with this generator, not when collected.
        with contextlib.closing(
            read_chunks(self._runtime.artifact_store, self._ref, on_tail, materializer.chunk_buffer)
        ) as chunks:
            for index, data in chunks:
                value = decode[0](index, data)
                del data
                yield value

    def _whole(self) -> Iterator[Any]:
        """A plain (not chunked) artifact: a list's elements (a mapped output's read one at
        a time), or the whole object as the only chunk."""
        store, materializers = self._runtime.artifact_store, self._runtime.materializers
        value = read_artifact(store, self._ref, materializers, allow_pickle=self._allow_pickle)
        if isinstance(value, Collection):
            for ref in value.refs:
                yield read_artifact(store, ref, materializers, allow_pickle=self._allow_pickle)
        elif isinstance(value, (list, tuple)):
            yield from value
        else:
            yield value
