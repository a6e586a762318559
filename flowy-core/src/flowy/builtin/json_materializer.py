"""Deprecated path: moved to :mod:`flowy.artifacts.json_materializer`; warns until Flowy 0.3."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.artifacts.json_materializer")
