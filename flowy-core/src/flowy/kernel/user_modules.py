"""How Flowy names the modules of user files it imports by path, and shows them again.

``flowy run pipeline.py`` imports the file under an internal module name derived
from its resolved path (:func:`module_name_for`, ``flowy_user_<stem>_<hash>``), so
that step references name the same module in every process, and marks the module
with ``__flowy_path__`` (the file). That internal name means nothing to a person
or to a later process, so what Flowy records is :func:`importable_name` (the
project-relative module path) and what it shows is :func:`shown_name` (the file).

These are naming rules only, used by every layer: the loader
(:mod:`flowy.run.loader`) imports the files, the artifact writer records a
pipeline file's class by its importable name, error messages and captured log
lines show the file. Nothing here imports a file.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

#: The prefix of every internal module name (a logger ``getLogger(__name__)`` has it too).
PREFIX = "flowy_user_"

#: An internal name: ``flowy_user_<stem>_<first 10 hex digits of sha256(resolved path)>``.
INTERNAL_NAME = re.compile(rf"{PREFIX}(?P<stem>\w+)_(?P<digest>[0-9a-f]{{10}})")


def module_name_for(path: Path) -> str:
    """A stable, importable module name for a file (same path, same name)."""
    resolved = path.resolve()
    stem = re.sub(r"\W", "_", resolved.stem) or "pipeline"
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    return f"{PREFIX}{stem}_{digest}"


def loaded_file(module_name: str) -> Path | None:
    """The file behind a module imported by path (None for any other module)."""
    path = getattr(sys.modules.get(module_name), "__flowy_path__", None)
    return Path(path) if path else None


def importable_name(module_name: str) -> str:
    """The name to record for a module, so that it can be imported again later.

    A file loaded by path lives in ``sys.modules`` under an internal name
    (:func:`module_name_for`) that means nothing to another process. It is
    recorded as its project-relative module path instead (``pipeline`` for
    ``pipeline.py``, ``models.net`` for ``models/net.py``), which
    :func:`flowy.run.loader.import_recorded` finds again from the project; a
    file outside the project is recorded by its stem. Any other module keeps
    its name.
    """
    file = loaded_file(module_name)
    if file is None:
        return module_name
    from flowy.kernel.config import project_for_file

    try:
        parts = list(file.with_suffix("").relative_to(project_for_file(file)).parts)
    except ValueError:
        parts = [file.stem]
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts) if all(p.isidentifier() for p in parts) else file.stem


def shown_name(module_name: str) -> str:
    """A module's name for people (log lines, errors): never an internal name.

    For a file loaded by path, the file: relative to its project when inside
    it (``pipeline.py``), else its full path. A dotted name below such a module
    (a logger ``flowy_user_....sub``) keeps its tail.
    """
    head, dot, tail = module_name.partition(".")
    file = loaded_file(head)
    if file is None:
        return module_name
    from flowy.kernel.config import project_for_file

    try:
        shown = str(file.relative_to(project_for_file(file)))
    except ValueError:
        shown = str(file)
    return f"{shown}{dot}{tail}"
