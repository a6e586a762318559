"""The two names every layer and every plugin needs first: the version and the hook marker.

They live here, not in ``flowy/__init__.py``, so kernel code never imports the root package
(whose type-checking imports reach every layer: the import contracts would see a cycle).
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Marks a plugin function as the implementation of a Flowy hook.
hookimpl = pluggy.HookimplMarker("flowy")
