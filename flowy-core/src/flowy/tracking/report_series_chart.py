"""The series chart of the HTML experiment report: a metric per logged step, one line per run.

``flowy.log_metric(name, value, step=i)`` records a curve (a loss per
epoch); the report's other chart shows one value per run. This one draws
every run's curve of the charted metric as inline SVG (no script, no
network), one ``<polyline class="series-line">`` per run with one point per
finite logged value, so it opens the same from an e-mail attachment.
"""

from __future__ import annotations

import html
import math
from typing import Any

_COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a3069", "#953800")


def series_chart(series: dict[str, list[list[Any]]], metric: str, width: int = 720) -> str:
    """``run_id -> [[index, value], ...]`` as a line chart (non-finite values are left out)."""
    height, left, right, top, bottom = 320, 70, 140, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    lines = {
        run_id: [(float(i), float(v)) for i, v in points if math.isfinite(float(v))]
        for run_id, points in series.items()
    }
    every = [p for points in lines.values() for p in points] or [(0.0, 0.0)]
    x_low, x_high = min(p[0] for p in every), max(p[0] for p in every)
    y_low, y_high = min(p[1] for p in every), max(p[1] for p in every)
    x_high = x_high if x_high > x_low else x_low + 1
    if y_high == y_low:
        y_low, y_high = y_low - (abs(y_low) or 1) * 0.05, y_high + (abs(y_high) or 1) * 0.05

    def x(v: float) -> float:
        return left + plot_w * (v - x_low) / (x_high - x_low)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - y_low) / (y_high - y_low))

    esc = html.escape
    parts = [
        f'<svg id="series-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(metric)} per step">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#ffffff" '
        'stroke="#d0d7de"/>',
    ]
    for i in range(5):
        value = y_low + (y_high - y_low) * i / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#57606a">{value:.4g}</text>'
        )
    for k, (run_id, points) in enumerate(lines.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
        parts.append(
            f'<polyline class="series-line" data-run="{esc(run_id)}" points="{path}" '
            f'fill="none" stroke="{colour}" stroke-width="2"><title>{esc(run_id[:12])}</title>'
            "</polyline>"
            f'<text x="{left + plot_w + 8}" y="{top + 14 + 16 * k}" font-size="11" '
            f'fill="{colour}">{esc(run_id[:12])}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="12" text-anchor="middle" '
        f'fill="#1b1f24">step ({x_low:g} to {x_high:g})</text>'
        f'<text x="14" y="{top + plot_h / 2}" font-size="12" text-anchor="middle" fill="#1b1f24" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{esc(metric)}</text></svg>'
    )
    return "".join(parts)
