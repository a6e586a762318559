"""Deprecated path: moved to :mod:`flowy.kernel.plugins` (warns; removed in Flowy 0.3).

The plugin-compatibility check went to :mod:`flowy.kernel.compat` and ``PluginInfo`` to
:mod:`flowy.kernel.registry`."""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.kernel.plugins",
    elsewhere={
        "CORE_DISTRIBUTION": "flowy.kernel.compat",
        "core_requirement": "flowy.kernel.compat",
        "incompatibility": "flowy.kernel.compat",
        "PluginInfo": "flowy.kernel.registry",
    },
)
