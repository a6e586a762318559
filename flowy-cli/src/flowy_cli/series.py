"""Metric series (``flowy.log_metric(name, value, step=i)``) for the terminal.

A series is every value one pipeline step logged under one metric name, in
logged order. ``runs show`` and ``experiment compare`` show each as a compact
row (points, first, last, min, max) and a unicode sparkline, so a training
curve can be read without leaving the terminal; ``--json`` holds the points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

_BARS = "▁▂▃▄▅▆▇█"


def series_of(metrics: Iterable[tuple[str, Any]]) -> dict[tuple[str, str], list[list[Any]]]:
    """``(step, metric name) -> [[index, value], ...]`` for names logged more than once.

    ``index`` is the ``step=`` the value was logged with, or its position when none was given.
    """
    found: dict[tuple[str, str], list[list[Any]]] = {}
    for step_name, m in metrics:
        name, value, index = _fields(m)
        points = found.setdefault((step_name, name), [])
        points.append([len(points) if index is None else index, value])
    return {key: points for key, points in found.items() if len(points) > 1}


def _fields(m: Any) -> tuple[str, float, int | None]:
    if isinstance(m, dict):
        return m["name"], m["value"], m.get("step")
    return m.name, m.value, m.step


def sparkline(values: Sequence[float], width: int = 24) -> str:
    """``values`` as unicode bars (resampled to at most ``width``); a non-finite value is ``·``."""
    if len(values) > width:
        values = [values[int(i * len(values) / width)] for i in range(width - 1)] + [values[-1]]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "·" * len(values)
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(
        _BARS[round((v - low) / span * (len(_BARS) - 1))] if math.isfinite(v) else "·"
        for v in values
    )


def summary_row(points: Sequence[Sequence[Any]]) -> list[str]:
    """``points, first, last, min, max, sparkline`` of one series, as table cells."""
    values = [float(v) for _, v in points]
    finite = [v for v in values if math.isfinite(v)] or [math.nan]
    return [
        str(len(values)),
        f"{values[0]:.4g}",
        f"{values[-1]:.4g}",
        f"{min(finite):.4g}",
        f"{max(finite):.4g}",
        sparkline(values),
    ]


def print_series(series: dict[tuple[str, str], list[list[Any]]]) -> None:
    """The ``Series`` section of ``runs show``: one row per (step, metric) series."""
    from flowy_cli.output import console, table
    from flowy_cli.terminal_text import escape_markup as escape

    if not series:
        return
    t = table("step", "metric", "points", "first", "last", "min", "max", "curve")
    for (step_name, name), points in series.items():
        t.add_row(escape(step_name), escape(name), *summary_row(points))
    console().print("[bold]Series[/]")
    console().print(t)
