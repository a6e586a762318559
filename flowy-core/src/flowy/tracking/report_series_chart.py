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

from flowy.tracking.svg_frame import Frame, ticks, value_range

_COLOURS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#0a3069", "#953800")


def series_chart(series: dict[str, list[list[Any]]], metric: str, width: int = 720) -> str:
    """``run_id -> [[index, value], ...]`` as a line chart (non-finite values are left out)."""
    frame = Frame(width, 320, left=70, right=140, top=20, bottom=40)
    height, left, top = frame.height, frame.left, frame.top
    plot_w = frame.plot_w
    lines = {
        run_id: [(float(i), float(v)) for i, v in points if math.isfinite(float(v))]
        for run_id, points in series.items()
    }
    every = [p for points in lines.values() for p in points] or [(0.0, 0.0)]
    x_low, x_high = min(p[0] for p in every), max(p[0] for p in every)
    y_low, y_high = value_range(min(p[1] for p in every), max(p[1] for p in every))
    x_high = x_high if x_high > x_low else x_low + 1

    def x(v: float) -> float:
        return left + plot_w * (v - x_low) / (x_high - x_low)

    y = frame.y_scale(y_low, y_high)
    esc = html.escape
    parts = [frame.open("series-chart", f"{metric} per step")]
    for value in ticks(y_low, y_high):
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
    parts.append(frame.close(f"step ({x_low:g} to {x_high:g})", height - 8, metric))
    return "".join(parts)
