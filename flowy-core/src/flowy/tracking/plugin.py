"""flowy-core's tracking features as a plugin: the hooks an outside plugin would implement.

The engine knows nothing of the model registry or of asset types; it calls
hooks, and this module answers them. It is part of flowy-core's built-in plugin
(:mod:`flowy.builtin.plugin` carries these implementations), registered by the
plugin manager like any distribution's plugin:

* ``flowy_register_asset_types``: the built-in asset types of
  :mod:`flowy.tracking.assets`, so that an artifact written from a ``Dataset``
  loads as a ``Dataset`` again, by the same lookup that finds a plugin's types;
* ``flowy_step_recorded``: ``@step(register_model=...)`` registers a model
  version once the step's record is committed (a cached step re-using an
  already registered artifact gets no second version).

A plugin that wants to do the same (register its models in another registry,
add its own asset types) implements the same two hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel.markers import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, MetadataStore
    from flowy.kernel.records import RunRecord, StepRunRecord
    from flowy.kernel.registry import Register

#: Asset type name -> (class in flowy.tracking.assets, what ``flowy plugins`` says of it).
BUILTIN_ASSET_TYPES: dict[str, tuple[str, str]] = {
    "artifact": ("Artifact", "any object; what a plain return value is recorded as"),
    "dataset": ("Dataset", "tabular or array data: schema, location, rows, split"),
    "model": ("Model", "a trained model: framework, architecture, shapes, parameter count"),
    "metrics": ("Metrics", "named numeric values, comparable between runs"),
    "featureset": ("FeatureSet", "engineered features: names, types, statistics, source"),
    "report": ("Report", "a report as Markdown, HTML or JSON"),
}


@hookimpl
def flowy_register_asset_types(register: Register) -> None:
    for type_name, (cls, description) in BUILTIN_ASSET_TYPES.items():
        register(type_name, f"flowy.tracking.assets:{cls}", description=description)


@hookimpl
def flowy_step_recorded(
    run: RunRecord, step: LiveStep, record: StepRunRecord, store: MetadataStore
) -> None:
    if step.register_model:
        from flowy.tracking.models import register_step_outputs

        register_step_outputs(store, step.register_model, record)
