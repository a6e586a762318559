"""Importing ``skops.io`` without importing every scikit-learn module, after the first time.

``import skops.io`` computes, at import, the names of every scikit-learn
estimator it trusts by calling ``sklearn.utils.all_estimators()``, which
imports each of scikit-learn's modules (and, through its array-API support,
PyTorch when it is installed): one to three seconds, in every process that
saves or loads an estimator, ``flowy model serve`` included. The result is a
list of names, a pure function of the installed scikit-learn and skops.

So the first import here is skops' own, and the names it computed are kept in
``FLOWY_HOME/cache/skops-estimators.json`` under the versions of
scikit-learn, skops and Python. Later imports hand skops those names (as
stand-in classes carrying exactly the module and name skops reads) instead of
the walk, then check that skops ended with the same list; anything unexpected
(a damaged cache, another skops layout, a mismatch) falls back to skops' own
import. Which types are trusted never changes, only how fast the list is made.

The cache is a file in the user's home, so a name planted in it must not make
skops trust a type: :func:`check_file_types`, called before every load, checks
each type of the file that only the remembered names trust, by importing its
module and seeing a public, concrete scikit-learn estimator there, as
``all_estimators`` would have found it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

CACHE_NAME = "skops-estimators.json"


def _cache_path() -> Path:
    from flowy.kernel.config import user_home

    return user_home() / "cache" / CACHE_NAME


def _versions() -> str:
    from importlib.metadata import version

    return "|".join(
        [version("scikit-learn"), version("skops"), f"{sys.version_info[0]}.{sys.version_info[1]}"]
    )


#: Recorded instead of names when the stand-ins did not reproduce skops' list.
OFF = "off"


def _cached(key: str) -> list[str] | str | None:
    """The remembered names, :data:`OFF`, or None (nothing usable remembered)."""
    try:
        data = json.loads(_cache_path().read_text())
        names = data[key]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if names == OFF:
        return OFF
    if not isinstance(names, list) or not names:
        return None
    if not all(isinstance(n, str) and "." in n for n in names):
        return None
    return names


def _remember(key: str, names: list[str] | str) -> None:
    path = _cache_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({key: names}))  # one version set: the installed one
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only home only costs the walk next time


#: The names handed to skops in this process (None: skops walked scikit-learn itself).
_remembered: frozenset[str] | None = None
#: Names checked to be genuine estimators in this process.
_genuine: set[str] = set()


def _is_estimator(qualified: str) -> bool:
    import importlib
    import inspect

    from sklearn.base import BaseEstimator

    module, _, name = qualified.rpartition(".")
    if not module.startswith("sklearn.") or name.startswith("_"):
        return False
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return (
        inspect.isclass(cls)
        and issubclass(cls, BaseEstimator)
        and not inspect.isabstract(cls)
        and f"{cls.__module__}.{cls.__name__}" == qualified
    )


def false_estimators(types: set[str], remembered: set[str] | frozenset[str]) -> list[str]:
    """Of ``types``, those ``remembered`` trusts that are not scikit-learn estimators."""
    wrong = []
    for qualified in sorted(types & set(remembered)):
        if qualified in _genuine:
            continue
        if _is_estimator(qualified):
            _genuine.add(qualified)
        else:
            wrong.append(qualified)
    return wrong


def file_types(path: str) -> set[str]:
    """Every ``module.Class`` a ``.skops`` file's schema names."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            module, cls = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(cls, str):
                found.add(f"{module}.{cls}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def check_file_types(path: str) -> None:
    """Refuse a file whose types only a planted name of the cache would trust."""
    from flowy.kernel.errors import UnsafeArtifactError

    if _remembered is None:
        return
    wrong = false_estimators(file_types(path), _remembered)
    if wrong:
        raise UnsafeArtifactError(
            f"{_cache_path()} lists {', '.join(wrong)} among scikit-learn's estimators, which "
            "it is not, and this skops file uses it: nothing was loaded. The file was changed "
            "by someone or something else; delete it (Flowy makes it again)."
        )


def _stand_ins(names: list[str]) -> list[tuple[str, Any]]:
    """``(name, class)`` pairs whose module and name are the estimators' own."""
    pairs = []
    for qualified in names:
        module, _, name = qualified.rpartition(".")
        pairs.append((name, type(name, (), {"__module__": module})))
    return pairs


def import_skops_io() -> Any:
    """``skops.io``, imported as described in the module docstring."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    try:
        key = _versions()
    except Exception:  # noqa: BLE001 - no metadata to key on: skops' own import
        key = None
    names = _cached(key) if key else None
    if not isinstance(names, list):
        import skops.io as sio
        from skops.io import _trusted_types

        if key and names is None:
            _remember(key, list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES))
        return sio
    import sklearn.utils

    real = sklearn.utils.all_estimators
    stand_ins = _stand_ins(names)
    sklearn.utils.all_estimators = lambda *args, **kwargs: list(stand_ins)  # type: ignore[assignment]
    try:
        import skops.io as sio
        from skops.io import _trusted_types
    finally:
        sklearn.utils.all_estimators = real  # type: ignore[assignment]
    global _remembered
    if list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES) != names:
        # skops made something else of the stand-ins (another layout): import it its own
        # way, now and from now on for these versions.
        for module in [m for m in sys.modules if m == "skops.io" or m.startswith("skops.io.")]:
            del sys.modules[module]
        _remember(key or "", OFF)
        import skops.io as sio

        return sio
    _remembered = frozenset(names)
    return sio
