"""Flowy: machine-learning pipelines from plain Python functions.

``from flowy import step, Pipeline, Context`` is the whole user API for
writing pipelines; everything else (executors, stores, materializers, the
CLI) arrives as plugins. Names are imported on first use so that
``import flowy`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports
from flowy.kernel.markers import __version__, hookimpl

#: Public name -> the module it lives in, imported on first use (see flowy.kernel.lazy_exports).
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

if TYPE_CHECKING:  # listed in __all__, so re-exported for type checkers (strict mypy)
    from flowy.kernel.errors import FlowyError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.context import Context
    from flowy.run.engine import RunResult, run_pipeline
    from flowy.run.pipeline import Pipeline
    from flowy.run.step_log import log_artifact, log_metric, log_params
    from flowy.run.steps import Step, step
    from flowy.tracking.assets import Artifact, Dataset, FeatureSet, Metrics, Model, Report
    from flowy.tracking.client import Client


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
