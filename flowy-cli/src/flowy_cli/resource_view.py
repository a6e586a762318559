"""A step's resource figures as ``flowy runs show`` prints them: one compact line.

The figures are the ``step_runs`` columns the worker measured
(:mod:`flowy.run.resource_usage`); a figure that was not measured (None) is left out,
and a step with none (cached, skipped, recorded before they were kept) gets no line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fmt_bytes(value: float) -> str:
    """``512 B``, ``4.8 MB``, ``1.2 GB`` (decimal units, as ``ls -h --si`` and ``df -H``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def resource_line(step: Mapping[str, Any]) -> str:
    """``cpu 1.25 s · peak 210.3 MB · read 10.5 kB · wrote 5.0 MB · gpu 1.2 GB 43%``, or ``""``."""
    parts = []
    if step.get("cpu_seconds") is not None:
        parts.append(f"cpu {step['cpu_seconds']:.2f} s")
    if step.get("peak_rss_bytes") is not None:
        parts.append(f"peak {fmt_bytes(step['peak_rss_bytes'])}")
    if step.get("read_bytes") is not None:
        parts.append(f"read {fmt_bytes(step['read_bytes'])}")
    if step.get("written_bytes") is not None:
        parts.append(f"wrote {fmt_bytes(step['written_bytes'])}")
    gpu = []
    if step.get("gpu_memory_bytes") is not None:
        gpu.append(fmt_bytes(step["gpu_memory_bytes"]))
    if step.get("gpu_utilization") is not None:
        gpu.append(f"{step['gpu_utilization']:.0f}%")
    if gpu:
        parts.append("gpu " + " ".join(gpu))
    return " · ".join(parts)
