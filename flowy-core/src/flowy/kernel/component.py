"""The base every stack component (executor, stores) derives from.

It sits in its own module because the contracts built on it live in two:
:mod:`flowy.kernel.contracts` (artifact store, executor, materializer, cache
strategy) and :mod:`flowy.kernel.metadata_store`, which the first re-exports.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Component:
    """Base of every stack component: options in, ``close()`` out."""

    #: Optional pydantic model validating this component's stack options.
    Options: ClassVar[Any] = None

    def close(self) -> None:
        """Release resources (connections, pools). Called once when a run ends."""
