"""Deprecated path: moved to :mod:`flowy.run.selection` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.run.selection", {"Selection": "flowy.run.planner"})
