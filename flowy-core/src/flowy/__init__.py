"""Flowy: machine-learning pipelines from plain Python functions.

``from flowy import step, Pipeline, Context`` is the whole user API for
writing pipelines; everything else (executors, stores, materializers, the
CLI) arrives as plugins. Names are imported on first use so that
``import flowy`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel.lazy import lazy_exports
from flowy.kernel.markers import __version__, hookimpl

#: Public name -> the module it lives in, imported on first use (see flowy.kernel.lazy).
_LAZY = {
    "Artifact": "flowy.tracking.assets",
    "Dataset": "flowy.tracking.assets",
    "FeatureSet": "flowy.tracking.assets",
    "Metrics": "flowy.tracking.assets",
    "Model": "flowy.tracking.assets",
    "Report": "flowy.tracking.assets",
    "step": "flowy.run.steps",
    "Step": "flowy.run.steps",
    "Pipeline": "flowy.run.pipeline",
    "Context": "flowy.run.context",
    "Client": "flowy.tracking.client",
    "log_artifact": "flowy.run.step_log",
    "log_metric": "flowy.run.step_log",
    "log_params": "flowy.run.step_log",
    "RunResult": "flowy.run.engine",
    "run_pipeline": "flowy.run.engine",
    "create_plugin_manager": "flowy.kernel.plugins",
    "FlowyError": "flowy.kernel.errors",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "Artifact",
    "Client",
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
    from flowy.kernel.errors import FlowyError as FlowyError
    from flowy.kernel.plugins import create_plugin_manager as create_plugin_manager
    from flowy.run.context import Context as Context
    from flowy.run.engine import RunResult as RunResult
    from flowy.run.engine import run_pipeline as run_pipeline
    from flowy.run.pipeline import Pipeline as Pipeline
    from flowy.run.step_log import log_artifact as log_artifact
    from flowy.run.step_log import log_metric as log_metric
    from flowy.run.step_log import log_params as log_params
    from flowy.run.steps import Step as Step
    from flowy.run.steps import step as step
    from flowy.tracking.assets import Artifact as Artifact
    from flowy.tracking.assets import Dataset as Dataset
    from flowy.tracking.assets import FeatureSet as FeatureSet
    from flowy.tracking.assets import Metrics as Metrics
    from flowy.tracking.assets import Model as Model
    from flowy.tracking.assets import Report as Report
    from flowy.tracking.client import Client as Client


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
