"""Alerts: rules in the project's config, evaluated when a run ends and on scheduler ticks.

Public entry points (import them from here, ``flowy.alerts``):

* :func:`evaluate_run_end` ``(store, run, records, *, project=None, plugins=None)``:
  called by the engine after a run's record is finished.
* :func:`evaluate_freshness` ``(store, now: float | None = None, *, project=None,
  plugins=None) -> list[AlertChange]``: called by ``flowy scheduler`` on each
  tick; fires a freshness rule whose pipeline has had no successful run within
  its period, and resolves it when one has.
* :func:`load_alert_config` ``(project)``: the rules, notifiers and ``ui_url``
  from ``.flowy/config.toml``, validated (a bad rule is a ConfigError naming
  the file and the rule).

Neither evaluation ever raises: a failure is logged (logger ``flowy.alerts``)
and warned about, never a failed run or a dead scheduler. Modules:
:mod:`~flowy.alerts.rules` (configuration), :mod:`~flowy.alerts.kinds`
(each rule kind's check), :mod:`~flowy.alerts.config` (the validated
configuration as runs read it), :mod:`~flowy.alerts.evaluate` (deduplication into
the store), :mod:`~flowy.alerts.notify` (notifiers, retries, delivery rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowy.alerts.evaluate import AlertChange
    from flowy.kernel.records import RunRecord, StepRunRecord

__all__ = [
    "AlertChange",
    "evaluate_freshness",
    "evaluate_run_end",
    "load_alert_config",
]

_LAZY = {
    "AlertChange": "flowy.alerts.evaluate",
    "evaluate_freshness": "flowy.alerts.evaluate",
    "load_alert_config": "flowy.alerts.config",
}


def evaluate_run_end(
    store: Any,
    run: RunRecord,
    records: dict[str, StepRunRecord],
    project: Path | None = None,
    plugins: Any = None,
) -> list[AlertChange]:
    """What the engine calls when a run ends (:func:`flowy.alerts.evaluate.evaluate_run_end`).

    A project whose config file names no alerts imports and reads nothing more:
    every run pays this check, only projects with rules pay for evaluating them.
    """
    if not _may_have_rules(project):
        return []
    from flowy.alerts.evaluate import evaluate_run_end as evaluate

    return evaluate(store, run, records, project, plugins)


def _may_have_rules(project: Path | None) -> bool:
    from flowy.kernel.config import config_path

    try:
        return b"alerts" in config_path("project", project).read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # let the evaluation say what is wrong with the file


def __getattr__(name: str) -> Any:
    """Import on first use: the engine imports this package in every run."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowy.alerts' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
