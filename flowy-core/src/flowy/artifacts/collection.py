"""A list stored element by element: what a mapped step reads and what it makes.

A step that maps over an input (``@step(map="items")``, :mod:`flowy.run.mapping`)
runs once per element, and each run must be cached and traced on its own, so
each element is its own artifact, written by the materializer its type picks
(a list of DataFrames is a list of Parquet files, which no single
materializer could store). The list itself is a :class:`Collection`: a small
JSON manifest naming its elements' references (where each is, its checksum,
materializer and type). Its checksum covers every element's checksum, so a
step taking the whole list is re-run exactly when one element changed, and
reading it verifies each element as any artifact is verified.

Elements are recorded as artifacts named ``NAME[i]``, beside the collection
``NAME`` (:func:`element_name`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef

if TYPE_CHECKING:
    from flowy.kernel import contracts
    from flowy.kernel.records import StepTask

#: The registered name of the collection materializer (flowy-core's own plugin).
MATERIALIZER = "collection"
_FORMAT = 1
_ELEMENT = re.compile(r"(.+)\[(\d+)\]")


@functools.cache
def _converter() -> Any:
    import cattrs  # only when a collection is written or read

    return cattrs.Converter()


@attrs.frozen
class Collection:
    """The references of a list's elements, in order (what the manifest holds)."""

    refs: tuple[ArtifactRef, ...]

    def __len__(self) -> int:
        return len(self.refs)


def element_name(output: str, index: int) -> str:
    """The name element ``index`` of ``output`` is recorded under: ``output[index]``."""
    return f"{output}[{index}]"


def element_of(name: str) -> tuple[str, int] | None:
    """``("items", 3)`` for ``"items[3]"``; None for a name that is not an element's."""
    match = _ELEMENT.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else None


def is_collection(ref: ArtifactRef) -> bool:
    return ref.materializer == MATERIALIZER


def splittable(value: Any) -> Sequence[Any] | None:
    """``value`` as the sequence a map runs over, or None where it is not one.

    Lists, tuples and ranges, and a NumPy array's rows; not strings, bytes or
    mappings, whose "elements" are rarely what a map means, and not a DataFrame
    (its rows are rarely worth a step run each: a list of frames is, see
    :func:`write_elements`'s error).
    """
    if isinstance(value, list | tuple | range):
        return value
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 0) >= 1:
        return list(value)  # an array: its rows
    return None


def write_elements(
    store: contracts.ArtifactStore,
    task: StepTask,
    name: str,
    value: Any,
    materializers: contracts.MaterializerResolver,
) -> dict[str, ArtifactRef]:
    """Store ``value`` element by element and as a collection; ``{name: collection,
    name[i]: element i}`` (in the worker, for an output in ``task.split``)."""
    from flowy.artifacts.keys import element_key, output_key
    from flowy.artifacts.store_io import write_artifact

    elements = splittable(value)
    if elements is None:
        raise FlowyError(
            f"Step {task.step!r} returned a {type(value).__name__} as {name!r}, which a "
            f"downstream step maps over (@step(map={name!r})); return a list (or a tuple, "
            "or an array: its rows) with one element per run of that step, e.g. a list of "
            "frames for a DataFrame: [g for _, g in df.groupby('region')]."
        )
    refs: dict[str, ArtifactRef] = {}
    for i, element in enumerate(elements):
        refs[element_name(name, i)] = write_artifact(
            store,
            element_key(task.artifact_prefix, task.run_id, task.step, name, i),
            element_name(name, i),
            element,
            materializers,
            allow_pickle=task.allow_pickle,
            origin=task,
        )
    refs[name] = write_collection(
        store,
        output_key(task.artifact_prefix, task.run_id, task.step, name),
        name,
        list(refs.values()),
        materializers,
        origin=task,
    )
    return refs


def write_collection(
    store: contracts.ArtifactStore,
    key: str,
    name: str,
    elements: Sequence[ArtifactRef],
    materializers: contracts.MaterializerResolver,
    *,
    origin: StepTask | None = None,
) -> ArtifactRef:
    """Write the manifest of ``elements`` as the artifact ``name`` at ``key``."""
    from flowy.artifacts.store_io import write_artifact

    return write_artifact(
        store, key, name, Collection(tuple(elements)), materializers, origin=origin
    )


def load_elements(
    collection: Collection,
    store: contracts.ArtifactStore,
    materializers: contracts.MaterializerResolver,
    *,
    allow_pickle: bool = False,
) -> list[Any]:
    """Every element of ``collection``, each read (and verified) as its own artifact."""
    from flowy.artifacts.store_io import read_artifact

    return [
        read_artifact(store, ref, materializers, allow_pickle=allow_pickle)
        for ref in collection.refs
    ]


class CollectionMaterializer(Materializer):
    """A :class:`Collection` as a JSON manifest of its elements' references."""

    name = MATERIALIZER
    version = "1"
    extension = ".json"

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        refs = [_converter().unstructure(attrs.evolve(r, artifact_id="")) for r in obj.refs]
        file.write(json.dumps({"flowy_collection": _FORMAT, "elements": refs}).encode())
        types = sorted({r.type_name for r in obj.refs})
        return {"length": len(obj.refs), "element_types": types}

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        data = json.loads(file.read())
        if not isinstance(data, dict) or data.get("flowy_collection") != _FORMAT:
            raise FlowyError("not a collection manifest written by this version of Flowy")
        return Collection(tuple(_converter().structure(r, ArtifactRef) for r in data["elements"]))
