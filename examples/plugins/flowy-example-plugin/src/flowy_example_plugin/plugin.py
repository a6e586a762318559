"""The entry-point module: registers dotted paths, imports nothing but flowy.

Flowy imports it through ``[project.entry-points.flowy]`` in pyproject.toml;
the tracker and materializer modules are imported only when a stack or an
output needs them.
"""

from __future__ import annotations

from typing import Any

from flowy import hookimpl


@hookimpl
def flowy_register_trackers(register: Any) -> None:
    register(
        "jsonl",
        "flowy_example_plugin.tracker:JsonLinesTracker",
        description="Appends every lifecycle event of a run to a JSON-lines file",
    )


@hookimpl
def flowy_register_materializers(register: Any) -> None:
    register(
        "fraction",
        "flowy_example_plugin.fraction:FractionMaterializer",
        types=["fractions.Fraction"],
        extension=".json",
        safe=True,
        description="fractions.Fraction as exact JSON numerator/denominator",
    )
