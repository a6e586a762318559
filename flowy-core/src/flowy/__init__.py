"""Flowy: machine-learning pipelines from plain Python functions.

``from flowy import step, Pipeline, Context`` is the whole user API for
writing pipelines; everything else (executors, stores, materializers, the
CLI) arrives as plugins. Names are imported on first use so that
``import flowy`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marks a plugin function as the implementation of a Flowy hook.
hookimpl = pluggy.HookimplMarker("flowy")

_LAZY = {
    "Artifact": "flowy.assets",
    "Dataset": "flowy.assets",
    "FeatureSet": "flowy.assets",
    "Metrics": "flowy.assets",
    "Model": "flowy.assets",
    "Report": "flowy.assets",
    "step": "flowy.steps",
    "Step": "flowy.steps",
    "Pipeline": "flowy.pipeline",
    "Context": "flowy.context",
    "log_artifact": "flowy.worker",
    "log_metric": "flowy.worker",
    "log_params": "flowy.worker",
    "RunResult": "flowy.engine",
    "run_pipeline": "flowy.engine",
    "create_plugin_manager": "flowy.plugins",
    "FlowyError": "flowy.errors",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "Artifact",
    "Context",
    "Dataset",
    "FeatureSet",
    "FlowyError",
    "Metrics",
    "Model",
    "Pipeline",
    "Report",
    "RunResult",
    "Step",
    "__version__",
    "create_plugin_manager",
    "hookimpl",
    "log_artifact",
    "log_metric",
    "log_params",
    "run_pipeline",
    "step",
]

if TYPE_CHECKING:  # "X as X" marks explicit re-exports for type checkers (strict mypy)
    from flowy.assets import Artifact as Artifact
    from flowy.assets import Dataset as Dataset
    from flowy.assets import FeatureSet as FeatureSet
    from flowy.assets import Metrics as Metrics
    from flowy.assets import Model as Model
    from flowy.assets import Report as Report
    from flowy.context import Context as Context
    from flowy.engine import RunResult as RunResult
    from flowy.engine import run_pipeline as run_pipeline
    from flowy.errors import FlowyError as FlowyError
    from flowy.pipeline import Pipeline as Pipeline
    from flowy.plugins import create_plugin_manager as create_plugin_manager
    from flowy.steps import Step as Step
    from flowy.steps import step as step
    from flowy.worker import log_artifact as log_artifact
    from flowy.worker import log_metric as log_metric
    from flowy.worker import log_params as log_params


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
