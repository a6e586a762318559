"""Deprecated path: moved to :mod:`flowy.tracking.models` (warns; removed in Flowy 0.3).

``load_model`` went to :mod:`flowy.tracking.client` instead: it opens a client, and the
registry module must not import the client that imports it.
"""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.tracking.models",
    {"load_model": "flowy.tracking.client", "normalize_register_option": "flowy.run.steps"},
)
