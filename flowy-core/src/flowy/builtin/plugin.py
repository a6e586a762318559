"""flowy-core's own plugin: registered through the same hooks as any other.

It provides what every install needs and that has no dependency: the
``code_hash`` and ``input_hash`` cache strategies, the JSON materializer for
Python builtins, the ``file`` materializer for files logged with
``flowy.log_artifact``, and the ``local`` stack (whose components come from
flowy-executor-local and flowy-store-sqlite; if those are missing, using the
stack says which distribution to install).

Tracking answers its own hooks in its own layer (:mod:`flowy.tracking.plugin`:
the built-in asset types, and model versions for ``@step(register_model=...)``).
Those are flowy-core's hooks too, so this module, the plugin that *is* flowy-core
(``flowy plugins`` shows one row per distribution), carries them by importing
them: pluggy finds a hook implementation by its name on the plugin module.
"""

from __future__ import annotations

from typing import Any

from flowy.kernel.markers import hookimpl
from flowy.tracking.plugin import flowy_register_asset_types, flowy_step_recorded

#: Every hook flowy-core implements, its own here and tracking's carried from its layer.
__all__ = [
    "flowy_register_asset_types",
    "flowy_register_cache_strategies",
    "flowy_register_materializers",
    "flowy_register_stacks",
    "flowy_step_recorded",
]

BUILTIN_TYPES = [
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytes",
]


@hookimpl
def flowy_register_cache_strategies(register: Any) -> None:
    register(
        "code_hash", "flowy.run.caching:CodeHash", description="step code and user code it calls"
    )
    register(
        "input_hash",
        "flowy.run.caching:InputHash",
        description="input checksums, materializer versions and parameter values",
    )


@hookimpl
def flowy_register_materializers(register: Any) -> None:
    register(
        "json",
        "flowy.artifacts.json_materializer:JsonMaterializer",
        types=BUILTIN_TYPES,
        extension=".json",
        format="JSON (tagged for tuple, set, bytes and non-string keys)",
        safe=True,
        description="Python builtins as JSON",
    )
    register(
        "collection",
        "flowy.artifacts.collection:CollectionMaterializer",
        types=["flowy.artifacts.collection.Collection"],
        extension=".json",
        format="JSON manifest of the elements' artifacts",
        safe=True,
        description="a list stored element by element, for steps that map over it",
    )
    register(
        "file",
        "flowy.artifacts.file_materializer:FileMaterializer",
        types=[],  # never chosen by type: only files stored with flowy.log_artifact use it
        format="the file's own bytes",
        safe=True,
        description="files logged with flowy.log_artifact (loaded as bytes)",
    )


@hookimpl
def flowy_register_stacks(register: Any) -> None:
    register(
        "local",
        {
            "executor": {"type": "local"},
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        },
        description=(
            "Steps in parallel worker processes on this machine (the local executor); "
            "metadata and artifacts in the project's .flowy/"
        ),
    )
