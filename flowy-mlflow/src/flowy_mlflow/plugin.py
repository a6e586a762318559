"""Entry-point module of flowy-mlflow (group ``flowy``).

Imports only ``flowy``: MLflow (over a second to import) is loaded when a run
on a stack whose ``tracker`` is ``mlflow`` starts, never by ``flowy --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register


@hookimpl
def flowy_register_trackers(register: Register) -> None:
    register(
        "mlflow",
        "flowy_mlflow.tracker:MlflowTracker",
        description="Mirror runs, parameters, metrics and artifacts into an MLflow tracking store.",
    )
