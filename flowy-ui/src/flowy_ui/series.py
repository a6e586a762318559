"""Metric series reduced to a point budget on the server, keeping each bucket's extremes.

A series of ``n > points`` values is cut into ``points // 2`` buckets of
consecutive points; each bucket keeps its smallest and its largest value (in
index order), so spikes and dips survive while a chart never gets more than
``points`` points. NaN is never the min or max of a bucket that holds a number;
a bucket of only NaN keeps its first point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]


def downsample(points: Sequence[Point], budget: int) -> list[Point]:
    """``points`` (sorted by index) reduced to at most ``budget`` (>= 2) points."""
    if len(points) <= budget:
        return list(points)
    buckets = max(1, budget // 2)
    size = len(points) / buckets
    result: list[Point] = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        numbers = [p for p in chunk if not math.isnan(p[1])]
        if not numbers:
            result.append(chunk[0])
            continue
        low = min(numbers, key=lambda p: p[1])
        high = max(numbers, key=lambda p: p[1])
        result.extend(sorted({low, high}, key=lambda p: p[0]) if low != high else [low])
    return result
