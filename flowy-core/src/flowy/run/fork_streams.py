"""Fresh ``sys.stdout`` and ``sys.stderr`` in a forked child, so its first write cannot hang.

Python's buffered streams guard their buffer with a lock that a write holds
while the write system call runs, and the interpreter gives up the GIL for that
call. A thread that forks meanwhile (a pool thread starting a worker while the
run's progress output is being written) gives the child a copy of the lock held
by a thread the child does not have: the child's first flush or write of that
stream waits forever. Seen as an intermittent ``flowy run`` hang under load.

Right after every fork, in the child, this module puts new stream objects on
the same descriptors, with the same encoding and buffering, in place of
``sys.stdout``/``sys.stderr`` (and ``sys.__stdout__``/``sys.__stderr__``). What
sat unwritten in the parent's buffers is the parent's to write; the child no
longer writes it a second time. The parent's objects are kept (never finalized
in the child, where finalizing would flush them). Streams that are not the
interpreter's own kind (a notebook's, a test runner's in-memory ones) are left
as they are.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

_NAMES = ("stdout", "stderr", "__stdout__", "__stderr__")

#: The parent's stream objects, replaced in this (child) process and kept from finalizing.
_replaced: list[Any] = []


def renew_std_streams() -> None:
    """Replace the standard streams that are real file streams with fresh ones (see module)."""
    renewed: dict[int, io.TextIOWrapper] = {}
    for name in _NAMES:
        stream = getattr(sys, name, None)
        if id(stream) in renewed:  # sys.stdout is usually sys.__stdout__
            setattr(sys, name, renewed[id(stream)])
            continue
        fresh = _fresh_copy(stream)
        if fresh is not None:
            _replaced.append(stream)
            renewed[id(stream)] = fresh
            setattr(sys, name, fresh)


def _fresh_copy(stream: Any) -> io.TextIOWrapper | None:
    """A new text stream like ``stream`` on its descriptor, or None where it is not a plain one."""
    if type(stream) is not io.TextIOWrapper:
        return None
    buffer = stream.buffer
    if type(buffer) is not io.BufferedWriter or type(buffer.raw) is not io.FileIO:
        return None
    try:
        fd = buffer.raw.fileno()
    except ValueError:  # closed
        return None
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=stream.write_through,
    )


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=renew_std_streams)
