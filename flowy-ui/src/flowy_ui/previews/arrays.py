"""An array's shape, dtype, statistics and a histogram.

Statistics (min, max, mean, std) are over the finite values, with NaN and
infinities counted apart; the histogram has :data:`BINS` bins over at most
:data:`SAMPLE` values, drawn at random (a fixed seed: the same array always gives
the same picture) when there are more. numpy is imported only once an array was
loaded, which already imported it.
"""

from __future__ import annotations

from typing import Any

from flowy_ui.previews.values import cell, number

BINS = 30
SAMPLE = 1_000_000
FIRST_VALUES = 20


def is_array(value: Any) -> bool:
    """A numpy ndarray (duck typed: its class lives in numpy and has shape and dtype)."""
    return (
        type(value).__module__ == "numpy"
        and hasattr(value, "shape")
        and hasattr(value, "dtype")
        and hasattr(value, "reshape")
    )


def preview(value: Any) -> dict[str, Any]:
    """kind ``array``: shape, dtype, the first values, and for numbers statistics + histogram."""
    import numpy as np

    flat = value.reshape(-1)
    out: dict[str, Any] = {
        "kind": "array",
        "shape": [int(n) for n in value.shape],
        "dtype": str(value.dtype),
        "length": int(flat.size),
        "values": [cell(v) for v in flat[:FIRST_VALUES].tolist()],
        "truncated": flat.size > FIRST_VALUES,
    }
    if value.dtype.kind not in "biuf" or flat.size == 0:
        return out
    numbers = flat.astype(np.float64) if value.dtype.kind == "b" else flat
    nans = infs = 0
    if numbers.dtype.kind == "f":
        finite_mask = np.isfinite(numbers)
        nans = int(np.count_nonzero(np.isnan(numbers)))
        infs = int(numbers.size - np.count_nonzero(finite_mask) - nans)
        numbers = numbers[finite_mask] if nans or infs else numbers
    stats: dict[str, Any] = {"count": int(numbers.size), "nulls": nans, "nan": nans, "inf": infs}
    if numbers.size:
        stats.update(
            min=number(numbers.min()),
            max=number(numbers.max()),
            mean=number(numbers.mean(dtype=np.float64)),
            std=number(numbers.std(dtype=np.float64)),
        )
        sample = numbers
        if numbers.size > SAMPLE:
            sample = numbers[np.random.default_rng(0).integers(0, numbers.size, SAMPLE)]
        try:
            counts, edges = np.histogram(sample.astype(np.float64, copy=False), bins=BINS)
        except ValueError:  # a range too wide for float64 (max - min overflows)
            counts, edges = None, None
        if counts is not None and edges is not None:
            out["histogram"] = {
                "edges": [number(e) for e in edges],
                "counts": [int(c) for c in counts],
                "values": int(sample.size),
                "sampled": bool(numbers.size > SAMPLE),
            }
    out["stats"] = stats
    return out
