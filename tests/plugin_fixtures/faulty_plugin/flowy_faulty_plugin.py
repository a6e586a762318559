"""A plugin whose parts fail the way real plugins do (used by tests/test_plugin_faults.py).

* materializer ``frame`` writes ``flowy_fixture_framework.Frame`` and declares
  ``requires=["flowy_fixture_framework"]``, as docs/materializers.md asks;
* materializer ``grid`` writes ``flowy_fixture_framework.Grid`` and declares
  nothing: its ``load`` imports the framework, which may be gone by then;
* tracker ``strict`` raises ``ValueError`` from ``__init__`` for a bad ``level``;
* tracker ``validated`` checks its options with pydantic inside ``__init__``;
* metadata store ``picky`` raises ``ValueError`` from ``__init__`` for a bad ``mode``.

The framework lives in ``framework/``, put on PYTHONPATH only while it is "installed".
"""

from __future__ import annotations

import json
from typing import Any

from flowy import hookimpl
from flowy.kernel.contracts import Materializer


@hookimpl
def flowy_register_materializers(register):
    register(
        "frame",
        "flowy_faulty_plugin:FrameMaterializer",
        types=["flowy_fixture_framework.Frame"],
        extension=".json",
        requires=["flowy_fixture_framework"],
        install="flowy-faulty-plugin[frames]",
    )
    register(
        "grid",
        "flowy_faulty_plugin:GridMaterializer",
        types=["flowy_fixture_framework.Grid"],
        extension=".json",
    )


@hookimpl
def flowy_register_trackers(register):
    register("strict", "flowy_faulty_plugin:StrictTracker")
    register("validated", "flowy_faulty_plugin:ValidatedTracker")


@hookimpl
def flowy_register_metadata_stores(register):
    register("picky", "flowy_faulty_plugin:PickyStore")


class _JsonMaterializer(Materializer):
    version = "1"
    extension = ".json"

    def save(self, obj: Any, file: Any) -> dict[str, Any]:
        file.write(json.dumps(obj.values).encode())
        return {}


class FrameMaterializer(_JsonMaterializer):
    name = "frame"

    def load(self, file: Any, metadata: Any) -> Any:
        import flowy_fixture_framework

        return flowy_fixture_framework.Frame(json.loads(file.read()))


class GridMaterializer(_JsonMaterializer):
    name = "grid"

    def load(self, file: Any, metadata: Any) -> Any:
        import flowy_fixture_framework

        return flowy_fixture_framework.Grid(json.loads(file.read()))


class StrictTracker:
    def __init__(self, level: str = "info") -> None:
        if level not in ("debug", "info"):
            raise ValueError(f"level must be 'debug' or 'info', not {level!r}")
        self.level = level


class ValidatedTracker:
    def __init__(self, **options: Any) -> None:
        from pydantic import BaseModel, PositiveInt

        class Settings(BaseModel):
            every: PositiveInt = 1

        self.settings = Settings(**options)


class PickyStore:
    def __init__(self, mode: str = "ro") -> None:
        raise ValueError(f"mode {mode!r} is not supported: use 'ro' or 'rw'")
