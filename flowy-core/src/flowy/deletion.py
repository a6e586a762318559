"""Deprecated path (warns; removed in Flowy 0.3): the records and errors of a deletion
moved to :mod:`flowy.kernel.deletion`, doing one (``delete_runs``, ``remove_files``) to
:mod:`flowy.tracking.deletion`."""

from flowy._moved import forward

__getattr__, __dir__ = forward(
    __name__,
    "flowy.kernel.deletion",
    elsewhere={name: "flowy.tracking.deletion" for name in ("delete_runs", "remove_files")},
)
