"""Asset types: what a step's output *is*, beyond the bytes a materializer writes.

A step may return a plain object (recorded as an :class:`Artifact`) or wrap it
in an asset carrying a ``name``, ``tags`` and ``properties``::

    @step
    def load() -> Dataset:
        return Dataset(frame, name="iris", tags=["raw"], location="s3://bucket/iris.csv")

The worker unwraps the asset: the wrapped ``value`` goes through the normal
materializer (so a ``Dataset`` of a DataFrame is still parquet), and the
asset's type, name, tags, properties and derived facts (rows, schema,
parameter count, ...) go into the artifact's metadata under
:data:`ASSET_KEY`, which the metadata store indexes (asset type, tags) so
lineage and search can use them.

Loading an artifact recorded from an asset returns the asset again, wrapping
the loaded object (``loaded.value``), in every place that loads: step inputs,
``RunResult[...]`` and ``Client.load``. One rule everywhere, so the facts a
step attached are never silently dropped between steps.

The base :class:`Asset` and the description format live in
:mod:`flowy.kernel.assets` (writing and reading artifacts needs them, below
this layer); the built-in types here are registered through the
``flowy_register_asset_types`` hook by :mod:`flowy.tracking.plugin`, the way a
plugin registers its own. This module imports nothing heavy: facts are derived
by duck typing (:mod:`flowy.tracking.asset_facts`), never by importing a
framework.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from flowy.kernel.assets import ASSET_KEY, PLAIN, Asset, rebuild
from flowy.tracking import asset_facts as facts

__all__ = [
    "ASSET_KEY",
    "ASSET_TYPES",
    "PLAIN",
    "REPORT_FORMATS",
    "Artifact",
    "Asset",
    "Dataset",
    "FeatureSet",
    "Metrics",
    "Model",
    "Report",
    "render_markdown",
    "rewrap",
]


@attrs.define
class Artifact(Asset):
    """Any object; what a plain return value is recorded as."""


@attrs.define
class Dataset(Asset):
    """Tabular or array data: schema, location and row count (derived when not given)."""

    asset_type: ClassVar[str] = "dataset"

    schema: dict[str, str] | None = attrs.field(default=None, kw_only=True)
    location: str | None = attrs.field(default=None, kw_only=True)
    rows: int | None = attrs.field(default=None, kw_only=True)
    split_info: dict[str, Any] | None = attrs.field(default=None, kw_only=True)

    def fields(self) -> dict[str, Any]:
        return {
            "schema": self.schema if self.schema is not None else facts.schema(self.value),
            "location": self.location,
            "rows": self.rows if self.rows is not None else facts.rows(self.value),
            "split_info": self.split_info,
        }

    def split(
        self, test_size: float = 0.25, *, seed: int = 0, shuffle: bool = True
    ) -> tuple[Dataset, Dataset]:
        """Split into (train, test), recording the split on both parts.

        Works on anything indexable by position: a DataFrame (``iloc``), an
        array, a list, or a tuple/list of those of equal length (``(X, y)``),
        which are split together. ``split_info`` on each part records the
        part, the fraction, the seed and the source's name, so the lineage of
        a model shows exactly how its training data was cut.
        """
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
        n = facts.rows(self.value)
        if n is None:
            raise TypeError(f"cannot split a {type(self.value).__name__}: it has no length")
        order = list(range(n))
        if shuffle:
            random.Random(seed).shuffle(order)
        cut = n - max(1, round(n * test_size)) if n > 1 else n
        parts = {"train": sorted(order[:cut]), "test": sorted(order[cut:])}
        out = []
        for part, idx in parts.items():
            info = {
                "part": part,
                "test_size": test_size,
                "seed": seed,
                "shuffle": shuffle,
                "source": self.name,
                "rows": len(idx),
            }
            out.append(
                Dataset(
                    facts.take(self.value, idx),
                    name=f"{self.name}-{part}" if self.name else None,
                    tags=[*self.tags, part],
                    properties=dict(self.properties),
                    location=self.location,
                    split_info=info,
                )
            )
        return out[0], out[1]


@attrs.define
class Model(Asset):
    """A trained model: framework, architecture, shapes, parameter count, training data."""

    asset_type: ClassVar[str] = "model"

    framework: str | None = attrs.field(default=None, kw_only=True)
    architecture: str | None = attrs.field(default=None, kw_only=True)
    input_shape: list[int | None] | None = attrs.field(default=None, kw_only=True)
    output_shape: list[int | None] | None = attrs.field(default=None, kw_only=True)
    parameter_count: int | None = attrs.field(default=None, kw_only=True)
    training_dataset: str | None = attrs.field(default=None, kw_only=True)
    """A name or artifact id; lineage knows the exact artifact regardless."""

    def fields(self) -> dict[str, Any]:
        cls = type(self.value)
        shape_in, shape_out = facts.model_shapes(self.value)
        return {
            "framework": self.framework or cls.__module__.split(".")[0],
            "architecture": self.architecture or cls.__qualname__,
            "input_shape": self.input_shape if self.input_shape is not None else shape_in,
            "output_shape": self.output_shape if self.output_shape is not None else shape_out,
            "parameter_count": (
                self.parameter_count
                if self.parameter_count is not None
                else facts.parameter_count(self.value)
            ),
            "training_dataset": self.training_dataset,
        }


@attrs.define
class Metrics(Asset):
    """Named numeric values (``value`` is a mapping name -> number), comparable."""

    asset_type: ClassVar[str] = "metrics"

    def fields(self) -> dict[str, Any]:
        return {"values": {str(k): float(v) for k, v in dict(self.value).items()}}

    def __getitem__(self, name: str) -> float:
        return float(self.value[name])

    def compare(self, other: Metrics | Mapping[str, float]) -> dict[str, dict[str, Any]]:
        """Per metric name: this value, the other's, and ``delta`` (other - this)."""
        theirs = dict(other.value if isinstance(other, Metrics) else other)
        out: dict[str, dict[str, Any]] = {}
        for key in sorted({*self.value, *theirs}):
            a, b = self.value.get(key), theirs.get(key)
            delta = None if a is None or b is None else float(b) - float(a)
            out[key] = {"a": a, "b": b, "delta": delta}
        return out

    def better_than(
        self, other: Metrics | Mapping[str, float], metric: str, mode: str = "max"
    ) -> bool:
        """Whether this value of ``metric`` beats the other's (``mode`` max or min)."""
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        theirs = float((other.value if isinstance(other, Metrics) else other)[metric])
        mine = self[metric]
        return mine > theirs if mode == "max" else mine < theirs


@attrs.define
class FeatureSet(Asset):
    """Engineered features: names and types, statistics, source and how they were made."""

    asset_type: ClassVar[str] = "featureset"

    features: dict[str, str] | None = attrs.field(default=None, kw_only=True)
    statistics: dict[str, dict[str, float]] | None = attrs.field(default=None, kw_only=True)
    source_dataset: str | None = attrs.field(default=None, kw_only=True)
    transformations: list[str] = attrs.field(factory=list, kw_only=True)
    selection: list[str] | None = attrs.field(default=None, kw_only=True)

    def fields(self) -> dict[str, Any]:
        return {
            "features": self.features if self.features is not None else facts.schema(self.value),
            "statistics": (
                self.statistics if self.statistics is not None else facts.statistics(self.value)
            ),
            "source_dataset": self.source_dataset,
            "transformations": list(self.transformations),
            "selection": self.selection,
        }


REPORT_FORMATS = ("markdown", "html", "json")


@attrs.define
class Report(Asset):
    """A report as HTML, Markdown (rendered to HTML on demand) or JSON."""

    asset_type: ClassVar[str] = "report"

    format: str = attrs.field(default="markdown", kw_only=True)

    @format.validator
    def _check_format(self, _attr: Any, value: str) -> None:
        if value not in REPORT_FORMATS:
            raise ValueError(f"Report format must be one of {REPORT_FORMATS}, got {value!r}")

    def fields(self) -> dict[str, Any]:
        return {"format": self.format}

    def to_html(self) -> str:
        """The report as an HTML fragment; raw HTML inside Markdown is escaped, not run."""
        if self.format == "html":
            return str(self.value)
        if self.format == "json":
            text = json.dumps(self.value, indent=2, default=str)
            return f"<pre><code>{html.escape(text)}</code></pre>"
        return render_markdown(str(self.value))


def render_markdown(text: str) -> str:
    """CommonMark to HTML with markdown-it-py, raw HTML disabled (so escaped).

    markdown-it-py (an optional dependency: ``flowy-core[reports]``; rich
    already depends on it) is CommonMark-compliant and maintained; with
    ``html: False`` a report built from untrusted strings cannot inject
    script. Without it, the text is shown escaped in ``<pre>``: readable, safe.
    """
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return f"<pre>{html.escape(text)}</pre>"
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    rendered: str = renderer.render(text)
    return rendered


ASSET_TYPES: dict[str, type[Asset]] = {
    cls.asset_type: cls for cls in (Artifact, Dataset, Model, Metrics, FeatureSet, Report)
}


def rewrap(value: Any, description: Mapping[str, Any]) -> Asset:
    """Rebuild a built-in asset around its loaded value (an unknown type: an Artifact).

    Loading an artifact (:func:`flowy.artifacts.store_io.read_artifact`) looks the
    type up among the asset types every plugin registers instead, so a plugin's own
    types come back too; this is the same for the built-in types alone.
    """
    cls = ASSET_TYPES.get(str(description.get("type")), Artifact)
    return rebuild(cls, value, description)
