"""Deprecated path: moved to :mod:`flowy.run.loader` (warns; removed in Flowy 0.3)."""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.run.loader",
    {
        "importable_name": "flowy.kernel.user_modules",
        "loaded_file": "flowy.kernel.user_modules",
        "module_name_for": "flowy.kernel.user_modules",
        "shown_name": "flowy.kernel.user_modules",
    },
)
