"""NumPy arrays as ``.npy``, never pickled.

``np.save`` streams the array's buffer straight into the store's file handle
(no second copy in memory) and ``np.load(allow_pickle=False)`` refuses any
file that would need pickle to load, so a planted object array cannot run
code. Object-dtype arrays are refused on write unless pickle is opted in,
in which case the pickle materializer takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from flowy.contracts import Materializer


class NumpyMaterializer(Materializer):
    name = "numpy"
    version = "1"
    extension = ".npy"

    def accepts(self, obj: Any) -> bool:
        return bool(obj.dtype.kind != "O")

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        import numpy as np

        np.lib.format.write_array(file, obj, allow_pickle=False)
        meta: dict[str, Any] = {"shape": list(obj.shape), "dtype": str(obj.dtype)}
        if obj.size and obj.dtype.kind in "iufb":
            meta.update(min=float(obj.min()), max=float(obj.max()), mean=float(obj.mean()))
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        import numpy as np

        return np.lib.format.read_array(file, allow_pickle=False)
