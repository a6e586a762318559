"""Deprecated path: moved to :mod:`flowy.run.worker` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.run.worker",
    {
        "log_artifact": "flowy.run.step_log",
        "log_metric": "flowy.run.step_log",
        "log_params": "flowy.run.step_log",
    },
)
