"""Pickle, the materializer of last resort: registered ``safe=False``.

It is never chosen by type. The core picks it only when a step or the
project opts in with ``allow_pickle`` and no safe materializer accepts the
value, and it refuses to load its artifacts without the same opt-in
(:func:`flowy.artifacts.store_io.read_artifact`), because unpickling a planted file
runs arbitrary code. cloudpickle is used when installed (it handles lambdas
and classes defined in ``__main__`` or inside functions); its output loads
with the standard ``pickle`` module as long as cloudpickle is installed.
Every artifact's metadata says ``"unsafe": true`` and which pickler wrote it.
"""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Mapping
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import FlowyError

PROTOCOL = 5


class PickleMaterializer(Materializer):
    """Any picklable value as ``.pkl`` (cloudpickle when installed)."""

    name = "pickle"
    version = "1"
    extension = ".pkl"
    safe = False

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        if importlib.util.find_spec("cloudpickle") is not None:
            import cloudpickle

            cloudpickle.dump(obj, file, protocol=PROTOCOL)
            pickler = "cloudpickle"
        else:
            pickle.dump(obj, file, protocol=PROTOCOL)
            pickler = "pickle"
        cls = type(obj)
        return {
            "unsafe": True,
            "pickler": pickler,
            "python_type": f"{cls.__module__}.{cls.__qualname__}",
            "protocol": PROTOCOL,
        }

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        if metadata.get("pickler") == "cloudpickle" and not importlib.util.find_spec("cloudpickle"):
            raise FlowyError(
                "This artifact was written with cloudpickle, which is not installed here: "
                "`pip install cloudpickle`."
            )
        return pickle.load(file)  # only reached under the allow_pickle opt-in
