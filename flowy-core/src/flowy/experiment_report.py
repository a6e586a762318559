"""Deprecated path: moved to :mod:`flowy.tracking.experiment_report`; warns until Flowy 0.3."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.tracking.experiment_report")
