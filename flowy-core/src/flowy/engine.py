"""Deprecated path: moved to :mod:`flowy.run.engine` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.run.engine",
    {
        "CacheWarning": "flowy.run.planner",
        "INTERRUPT_GRACE": "flowy.run.execution",
        "Reusable": "flowy.run.execution",
        "RunExecution": "flowy.run.execution",
        "Submitted": "flowy.run.execution",
    },
)
