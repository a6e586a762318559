"""NumPy arrays as ``.npy``, never pickled.

Writing puts the ``.npy`` header and then the array's own buffer into the
store's file handle (for C- or F-contiguous arrays no byte is copied; other
arrays go through ``np.lib.format`` in 16 MiB chunks). Reading allocates the
array once and ``readinto``s the file straight into its buffer, so a 5 GB
array needs 5 GB, not 10. Object-dtype arrays are refused on write (the
pickle materializer takes them when a step opts in) and a planted ``.npy``
that holds an object array is refused on read: loading it would unpickle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import FlowyError, UnsafeArtifactError

if TYPE_CHECKING:
    import numpy as np


#: Statistics are reduced block by block, so min, max and sum read each block while
#: it is still in the CPU cache: one trip through memory instead of three.
STATS_BLOCK = 1 << 18


def _blockwise_stats(flat: np.ndarray) -> list[Any]:
    """min, max and mean of a 1-d array, reducing one cache-sized block at a time."""
    import numpy as np

    lows, highs, sums = [], [], []
    for start in range(0, flat.size, STATS_BLOCK):
        block = flat[start : start + STATS_BLOCK]
        lows.append(block.min())
        highs.append(block.max())
        sums.append(block.sum(dtype=np.float64))
    return [min(lows), max(highs), float(np.sum(sums)) / flat.size]


def array_metadata(arr: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and, for numeric arrays, min/max/mean (NaN-aware, JSON-safe)."""
    import numpy as np

    meta: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    if arr.size and arr.dtype.kind in "iufb":
        # Plain reductions stream over the buffer without temporaries; the NaN-aware
        # ones copy the array, so they run only when a NaN actually showed up.
        with np.errstate(all="ignore"):
            values = arr.view(np.uint8) if arr.dtype.kind == "b" else arr
            if values.flags.c_contiguous or values.flags.f_contiguous:
                stats = _blockwise_stats(values.ravel(order="A"))  # a view: nothing copied
            else:
                stats = [values.min(), values.max(), values.mean(dtype=np.float64)]
            if arr.dtype.kind == "f" and np.isnan(stats[2]) and not np.isnan(values).all():
                stats = [np.nanmin(values), np.nanmax(values), np.nanmean(values)]
        # NaN/inf are not JSON; record them as strings so metadata stays portable.
        for key, value in zip(("min", "max", "mean"), map(float, stats), strict=True):
            meta[key] = value if np.isfinite(value) else str(value)
    return meta


def write_npy(arr: np.ndarray, file: BinaryIO) -> None:
    """Write ``arr`` as ``.npy`` through ``file`` without copying contiguous buffers."""
    import numpy as np

    fmt = np.lib.format
    if arr.dtype.names is None and (arr.flags.c_contiguous or arr.flags.f_contiguous):
        fmt.write_array_header_1_0(file, fmt.header_data_from_array_1_0(arr))
        if arr.size:
            # ravel(order="A") of a contiguous array is a view: nothing is copied.
            file.write(memoryview(arr.ravel(order="A").view(np.uint8)))  # type: ignore[arg-type]
    else:
        # Strided views and structured dtypes (whose header may need version 2/3).
        fmt.write_array(file, arr, allow_pickle=False)


def read_npy(file: BinaryIO, *, allow_objects: bool = False) -> np.ndarray:
    """Read an ``.npy`` written by any NumPy.

    Object arrays are stored pickled; they are refused unless ``allow_objects``
    (the user's pickle opt-in), because unpickling a planted file runs code.
    """
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(file)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(file)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(file)
    else:  # pragma: no cover - read_magic already refuses unknown versions
        raise FlowyError(f"unsupported .npy version {version}")
    if dtype.hasobject and allow_objects:
        import pickle

        return np.asarray(pickle.load(file))  # what np.save wrote for an object array
    if dtype.hasobject:
        raise UnsafeArtifactError(
            "This .npy file holds an object-dtype array, which can only be loaded by "
            "unpickling it (and unpickling can run code). Flowy's numpy materializer never "
            "unpickles. If you trust the store, load it with the pickle opt-in "
            "(`allow_pickle=True` on the step, or `flowy config set allow_pickle true`); "
            "to write such values, return them from a step with `@step(allow_pickle=True)`."
        )
    arr = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    if arr.size:
        buffer = memoryview(arr.ravel(order="A").view(np.uint8))  # type: ignore[arg-type]
        filled = 0
        while filled < len(buffer):
            n = file.readinto(buffer[filled:])  # type: ignore[attr-defined]
            if not n:
                raise FlowyError(
                    f"The .npy file ends after {filled} of {len(buffer)} data bytes; "
                    "it was truncated. Re-run the step that wrote it."
                )
            filled += n
    return arr


class NumpyMaterializer(Materializer):
    """``numpy.ndarray`` (numeric, bool, str, datetime, structured) as ``.npy``."""

    name = "numpy"
    version = "1"
    extension = ".npy"

    def accepts(self, obj: Any) -> bool:
        return not obj.dtype.hasobject

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        write_npy(obj, file)
        return array_metadata(obj)

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        from flowy.artifacts import unsafe_load_allowed

        return read_npy(file, allow_objects=unsafe_load_allowed())
