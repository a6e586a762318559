"""Entry-point module: registers each framework's materializer by dotted path.

Nothing here imports numpy: the registry matches type names, and the
materializer class is imported only when an object of that type appears.
"""

from __future__ import annotations

from typing import Any

from flowy import hookimpl


@hookimpl
def flowy_register_materializers(register: Any) -> None:
    register(
        "numpy",
        "flowy_materializers.numpy_materializer:NumpyMaterializer",
        types=["numpy.ndarray"],
        extension=".npy",
        format="npy (allow_pickle=False)",
        safe=True,
        requires=["numpy"],
        description="numeric, bool and string arrays as .npy; object arrays refused",
    )
