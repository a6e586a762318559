"""Deprecated path: moved to :mod:`flowy.artifacts.sidecars` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.artifacts.sidecars")
