"""The ``flowy`` entry points, from a small cache while nothing installed changes.

Reading an entry-point group through :mod:`importlib.metadata` costs every
command 30-50 ms: importing that module (email, zipfile, csv: about 25 ms in a
fresh interpreter) and parsing the metadata of every installed distribution.
So the group is cached in ``FLOWY_HOME/cache/entry-points.json`` (per
interpreter and ``sys.path``, the last few of them) under a
fingerprint of where distributions live: for each ``sys.path`` folder, the
name, inode, size and modification time of the ``entry_points.txt`` and
``METADATA``/``PKG-INFO`` of each ``*.dist-info``/``*.egg-info`` folder in it
(plus this core's version, which the cached compatibility verdicts depend
on). Installing, upgrading or removing a distribution, or editing one of those
files, changes the fingerprint and the group is read again. Computing it is
one ``scandir`` per ``sys.path`` folder and a few ``stat`` calls per
distribution.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any, NamedTuple

#: The entry-point group of Flowy plugins.
GROUP = "flowy"
CACHE_NAME = "entry-points.json"
#: How many ``sys.path`` layouts the cache file remembers.
MAX_ENTRIES = 8
_META_FILES = ("entry_points.txt", "METADATA", "PKG-INFO")


class FlowyEntryPoint(NamedTuple):
    """One entry point of the group, with what the plugin manager needs of its distribution.

    ``problem`` says why its declared flowy-core range excludes this core (None: it fits).
    """

    name: str
    value: str
    distribution: str
    version: str
    requires_core: str | None = None
    problem: str | None = None

    def load(self) -> Any:
        """Import the module (and attribute) the entry point names."""
        from flowy.kernel.registry import import_target

        return import_target(self.value)


def _fingerprint(core_version: str) -> str:
    parts = [sys.version, core_version]
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            names = sorted(
                e.name for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info"))
            )
        except OSError:  # a zip file, or a folder that does not exist
            try:
                st = os.stat(folder)
                parts.append(f"{folder}:{st.st_mtime_ns}:{st.st_size}")
            except OSError:
                parts.append(f"{folder}:-")
            continue
        parts.append(f"{folder}:")
        for name in names:
            for meta in _META_FILES:
                try:
                    st = os.stat(os.path.join(folder, name, meta))
                except OSError:
                    continue
                parts.append(f"{name}/{meta}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _read() -> list[FlowyEntryPoint]:
    from importlib import metadata

    from flowy.kernel.compat import core_requirement, incompatibility

    found = []
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else ep.name
        version = ep.dist.version if ep.dist is not None else "unknown"
        requires = core_requirement(ep.dist)
        found.append(
            FlowyEntryPoint(ep.name, ep.value, dist, version, requires, incompatibility(requires))
        )
    return found


def entry_points() -> list[FlowyEntryPoint]:
    """The installed entry points of the ``flowy`` group, from the cache when it is current."""
    from flowy.kernel.config import user_home
    from flowy.kernel.markers import __version__

    # sys.path differs between `flowy` (its script's folder first), `python -c` (the
    # current folder first) and other interpreters: each keeps its own entry.
    where = hashlib.sha256("\0".join([sys.executable, *sys.path]).encode()).hexdigest()[:16]
    fingerprint = _fingerprint(__version__)
    path = user_home() / "cache" / CACHE_NAME
    entries: dict[str, Any] = {}
    try:
        entries = dict(json.loads(path.read_text()))
        mine = entries[where]
        if mine["fingerprint"] == fingerprint:
            return [FlowyEntryPoint(**item) for item in mine["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = _read()
    entries.pop(where, None)
    kept = dict(list(entries.items())[-(MAX_ENTRIES - 1) :])  # the most recently written
    kept[where] = {"fingerprint": fingerprint, "entry_points": [ep._asdict() for ep in found]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(kept))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home only costs the scan next time
    return found
