"""Tracking: assets, experiments, reports, the model registry, the read API (``Client``) and
housekeeping of the recorded history. Reaches the engine only through hooks.

The names below are this layer's public surface: the read API, experiment summaries and
reports, the model registry's one-line loader, garbage collection and run deletion (what the
CLI and the docs use). They are imported from their submodules on first use; the submodules
are private (see the ``plugins-public-api`` import contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports

#: Public name -> "module" or "module:attribute" it comes from (see flowy.kernel.lazy_exports).
_LAZY = {
    # the read API and the assets it returns
    "Client": "flowy.tracking.client",
    "Asset": "flowy.tracking.assets",
    # experiments: summaries, comparison, the best run, the report
    "best_run": "flowy.tracking.experiments",
    "compare_runs": "flowy.tracking.experiments",
    "experiment_runs": "flowy.tracking.experiments",
    "list_experiments": "flowy.tracking.experiments",
    "metric_names": "flowy.tracking.experiments",
    "summarize": "flowy.tracking.experiments",
    "build_report": "flowy.tracking.experiment_report",
    "render_report": "flowy.tracking.experiment_report:render",
    # the model registry
    "load_model": "flowy.tracking.client",
    "model_parameter_count": "flowy.tracking.asset_facts:parameter_count",
    # housekeeping: what `flowy gc` collects and keeps
    "GcReport": "flowy.tracking.housekeeping",
    "collect_garbage": "flowy.tracking.housekeeping:collect",
    "Retention": "flowy.tracking.retention",
    # deleting runs: rows in one transaction, then files (`flowy runs delete`)
    "delete_runs": "flowy.tracking.deletion",
    # the runs list's filter language (flowy ui, `flowy runs list --filter`)
    "RunQueryError": "flowy.tracking.run_query:QueryError",
    "parse_run_filter": "flowy.tracking.run_query:parse",
    "parse_run_sort": "flowy.tracking.run_query:parse_sort",
    "render_run_filter": "flowy.tracking.run_query:render",
    # Prometheus metrics read from the store (`flowy monitor serve`, the UI's /metrics)
    "StoreMetrics": "flowy.tracking.store_metrics",
    "metrics_exposition": "flowy.tracking.store_metrics:exposition",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "Asset",
    "Client",
    "GcReport",
    "Retention",
    "RunQueryError",
    "StoreMetrics",
    "best_run",
    "build_report",
    "collect_garbage",
    "compare_runs",
    "delete_runs",
    "experiment_runs",
    "list_experiments",
    "load_model",
    "metric_names",
    "metrics_exposition",
    "model_parameter_count",
    "parse_run_filter",
    "parse_run_sort",
    "render_report",
    "render_run_filter",
    "summarize",
]

if TYPE_CHECKING:  # listed in __all__, so re-exported for type checkers (strict mypy)
    from flowy.tracking.asset_facts import parameter_count as model_parameter_count
    from flowy.tracking.assets import Asset
    from flowy.tracking.client import Client, load_model
    from flowy.tracking.deletion import delete_runs
    from flowy.tracking.experiment_report import build_report
    from flowy.tracking.experiment_report import render as render_report
    from flowy.tracking.experiments import (
        best_run,
        compare_runs,
        experiment_runs,
        list_experiments,
        metric_names,
        summarize,
    )
    from flowy.tracking.housekeeping import GcReport
    from flowy.tracking.housekeeping import collect as collect_garbage
    from flowy.tracking.retention import Retention
    from flowy.tracking.run_query import QueryError as RunQueryError
    from flowy.tracking.run_query import parse as parse_run_filter
    from flowy.tracking.run_query import parse_sort as parse_run_sort
    from flowy.tracking.run_query import render as render_run_filter
    from flowy.tracking.store_metrics import StoreMetrics
    from flowy.tracking.store_metrics import exposition as metrics_exposition

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
