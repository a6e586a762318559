"""Deprecated path: moved to :mod:`flowy.tracking.report_series_chart`; warns until 0.3."""

from flowy._moved import forward

__getattr__, __dir__ = forward(__name__, "flowy.tracking.report_series_chart")
