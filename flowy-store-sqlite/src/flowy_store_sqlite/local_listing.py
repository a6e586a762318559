"""Listing a local artifact store's folder, for ``flowy gc`` and ``flowy doctor``.

Kept beside :mod:`flowy_store_sqlite.local_store` (whose hot path is writing
and reading) because only housekeeping walks the whole tree. The walk never
follows symbolic links and reports only regular files: a link is not ours to
delete, and following one could leave the store's root.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator

from flowy.kernel.contracts import StoredObject

#: The temporary name ``LocalArtifactStore.open_write`` writes to: ``.<name>.tmp-<12 hex>``.
TEMPORARY = re.compile(r"\..+\.tmp-[0-9a-f]{12}")


def is_temporary(path: str) -> bool:
    """Whether ``path``'s file name is a write's temporary name."""
    return TEMPORARY.fullmatch(os.path.basename(path)) is not None


def walk(root: str) -> Iterator[StoredObject]:
    """Every regular file under ``root`` (no links followed), with size and mtime."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while we walked
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                yield StoredObject(entry.path, info.st_size, info.st_mtime)


def holds_files(root: str, temporary: bool = False) -> bool:
    """Whether any regular file (besides temporary ones, unless asked) is under ``root``."""
    return any(temporary or not is_temporary(o.uri) for o in walk(root))
