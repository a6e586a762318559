"""Deprecated path: moved to :mod:`flowy.stacks.refs` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.stacks.refs")
