"""Validated stack options, remembered per project so a run needs no pydantic.

Validating a component's options means importing pydantic and building the
component's model: about a fifth of a one-step ``flowy run``, paid again by
every process for the same options. The validated options are a pure function
of the options given and of the code that validates them, so
:func:`validated` keeps each result in ``.flowy/.options-validated.json``
under a key made of:

- the component's class and the distribution (and version) that provides it;
- the modification time and size of the class's module file and of the file
  of its ``Options`` model (a :class:`~flowy.kernel.component.LazyOptions`
  names it without importing it), so editing a plugin in place (an editable
  install) is seen as a change;
- the options, after ``{env:}`` and path substitution.

A project's first run validates before its ``.flowy/`` folder exists; the
result is written when the process exits, once the run has created it.

Options that hold a secret are never cached: a ``{env:...}`` reference (its
value may be one), or anything Flowy masks when it shows options (a value
under a name like ``token`` or ``password``, a URL's password, a signed URL's
signature; :func:`flowy.kernel.redact.secret_values`). The cache is a plain
file, and a secret written in a stack file must not be copied elsewhere. A cache
that cannot be read or written (a read-only project) costs only the
validation; a damaged one is ignored and rewritten.
"""

from __future__ import annotations

import atexit
import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flowy.kernel.component import LazyOptions
from flowy.kernel.redact import secret_values

CACHE_NAME = ".options-validated.json"
#: Bumped when the cached form changes, so an older cache is not trusted.
CACHE_VERSION = 1
#: Entries kept (the newest): a project switches among a few stacks, not hundreds.
MAX_ENTRIES = 64

_loaded: dict[Path, dict[str, Any]] = {}
#: Projects whose .flowy/ did not exist yet when their options were validated.
_pending: set[Path] = set()


def _file_identity(module_name: str | None) -> list[Any]:
    """``[path, mtime_ns, size]`` of a module's source file, found without importing it."""
    if not module_name:
        return []
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        import importlib.util

        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return [module_name]
        path = spec.origin if spec is not None else None
    if not path:
        return [module_name]
    try:
        stat = os.stat(path)
    except OSError:
        return [path]
    return [path, stat.st_mtime_ns, stat.st_size]


def _options_module(cls: type) -> str | None:
    declared = inspect.getattr_static(cls, "Options", None)
    if isinstance(declared, LazyOptions):
        return declared.module
    return getattr(declared, "__module__", None)


def _has_env_reference(value: Any) -> bool:
    if isinstance(value, str):
        return "{env:" in value
    if isinstance(value, Mapping):
        return any(_has_env_reference(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_env_reference(v) for v in value)
    return False


def cache_key(cls: type, provider: str, options: Mapping[str, Any]) -> str | None:
    """The key of ``cls``'s validated ``options``, or None when they cannot be cached."""
    try:
        payload = json.dumps(
            [
                CACHE_VERSION,
                f"{cls.__module__}:{cls.__qualname__}",
                provider,
                _file_identity(cls.__module__),
                _file_identity(_options_module(cls)),
                options,
            ],
            sort_keys=True,
        )
    except (TypeError, ValueError):  # options that are not JSON: validate every time
        return None
    return hashlib.sha256(payload.encode()).hexdigest()


def _path(project: Path) -> Path:
    return project / ".flowy" / CACHE_NAME


def _entries(project: Path) -> dict[str, Any]:
    cached = _loaded.get(project)
    if cached is None:
        try:
            data = json.loads(_path(project).read_text())
            cached = data["entries"] if data.get("version") == CACHE_VERSION else {}
            if not isinstance(cached, dict):
                cached = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            cached = {}
        _loaded[project] = cached
    return cached


def _save(project: Path, entries: dict[str, Any]) -> None:
    path = _path(project)
    if not path.parent.is_dir():
        # Not a Flowy project yet: a first run creates .flowy/ when it opens its stores,
        # after the options were validated; keep them then, at exit (never create it here).
        if project not in _pending:
            _pending.add(project)
            atexit.register(_save_if_created, project)
        return
    kept = dict(list(entries.items())[-MAX_ENTRIES:])
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "entries": kept}))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _save_if_created(project: Path) -> None:
    if _path(project).parent.is_dir():
        _save(project, _entries(project))


def validated(
    cls: type,
    provider: str,
    *,
    raw: Mapping[str, Any],
    options: Mapping[str, Any],
    project: Path,
    validate: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """``validate()``'s result for ``options``, from the project's cache when it holds it.

    ``raw`` is the stack table's options before substitution (to spot ``{env:}``
    references); ``provider`` the distribution and version that registered ``cls``.
    """
    if _has_env_reference(raw) or secret_values(dict(options)):
        return validate()
    key = cache_key(cls, provider, options)
    if key is None:
        return validate()
    entries = _entries(project)
    hit = entries.get(key)
    if isinstance(hit, dict):
        return dict(hit)
    result = validate()
    try:
        json.dumps(result)
    except (TypeError, ValueError):  # a model with values JSON cannot keep
        return result
    if secret_values(result):  # a default or a derived value that is a secret
        return result
    entries[key] = result
    _save(project, entries)
    return result
