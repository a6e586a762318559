"""JSON-safe values for previews: NaN and infinity become null, odd types become text.

A preview must be strict JSON (the server answers with ``allow_nan=False``), so every
number that leaves a preview module passes through :func:`number` or :func:`cell`.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

#: Characters kept of one cell's text (a frame cell, an array value, a parameter).
CELL_CHARS = 200


def number(value: Any) -> float | None:
    """A finite float, or None for NaN, infinity, missing or non-numeric values."""
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def cell(value: Any) -> str | int | float | bool | None:
    """One value as JSON can hold it: numbers, booleans, None, else short text.

    NaN (a missing value) is None; an infinity is the string ``"Infinity"`` or
    ``"-Infinity"``, as Flowy writes them in JSON everywhere else.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:CELL_CHARS]
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return None if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    item = getattr(value, "item", None)  # a numpy scalar: its Python value
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return cell(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if _is_missing(value):
        return None
    return str(value)[:CELL_CHARS]


def _is_missing(value: Any) -> bool:
    """pandas' NA and NaT (neither is a float)."""
    name = type(value).__name__
    return name in {"NAType", "NaTType"}


def class_name(value: Any) -> str:
    """``module.QualifiedName`` of a value's class (``builtins.dict``)."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
