"""The frame both charts of the HTML experiment report are drawn in: one place for its SVG.

The report's charts (:func:`flowy.tracking.experiment_report.svg_chart`, one value
per run, and :func:`flowy.tracking.report_series_chart.series_chart`, a curve per
run) share their geometry, their opening ``<svg>`` with its white plot area, their
axis titles and the way a flat series is given some height; what they plot differs.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import attrs


@attrs.frozen
class Frame:
    """A chart ``width`` x ``height`` pixels, its plot area inset by the four margins."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom

    def open(self, svg_id: str, label: str) -> str:
        """The ``<svg>`` element (``label`` for screen readers) and the plot area's box."""
        w, h = self.width, self.height
        return (
            f'<svg id="{svg_id}" xmlns="http://www.w3.org/2000/svg" width="{w}" '
            f'height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{html.escape(label)}">'
            f'<rect x="{self.left}" y="{self.top}" width="{self.plot_w}" height="{self.plot_h}" '
            'fill="#ffffff" stroke="#d0d7de"/>'
        )

    def y_scale(self, low: float, high: float) -> Callable[[float], float]:
        """Value -> vertical pixel: ``low`` at the plot's bottom edge, ``high`` at its top."""

        def y(v: float) -> float:
            return self.top + self.plot_h * (1 - (v - low) / (high - low))

        return y

    def close(self, x_title: str, x_title_y: int, y_title: str) -> str:
        """The axis titles (``x_title`` centred at height ``x_title_y``) and ``</svg>``."""
        middle = self.top + self.plot_h / 2
        return (
            f'<text x="{self.left + self.plot_w / 2}" y="{x_title_y}" font-size="12" '
            f'text-anchor="middle" fill="#1b1f24">{html.escape(x_title)}</text>'
            f'<text x="14" y="{middle}" font-size="12" text-anchor="middle" fill="#1b1f24" '
            f'transform="rotate(-90 14 {middle})">{html.escape(y_title)}</text></svg>'
        )


def value_range(low: float, high: float) -> tuple[float, float]:
    """``(low, high)``, widened by 5% either side when equal, so a flat line sits mid-plot."""
    if high == low:
        return low - (abs(low) or 1) * 0.05, high + (abs(high) or 1) * 0.05
    return low, high


def ticks(low: float, high: float) -> list[float]:
    """The five values labelled on the vertical axis: both ends and three between."""
    return [low + (high - low) * i / 4 for i in range(5)]
