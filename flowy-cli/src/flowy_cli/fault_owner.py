"""Whose code raised: the distribution, and the component, behind an exception.

The CLI's error boundary (:mod:`flowy_cli.error_boundary`) names the plugin at
fault instead of blaming Flowy. It reads the traceback: each frame's module
belongs to a distribution when its top-level package is Flowy's own or the
package of a ``flowy`` entry point (read from the entry-point cache, so no
plugin is imported); a frame's ``self`` (or its module) is matched with the
registry's targets to name the component (``materializer 'polars'``).
"""

from __future__ import annotations

import contextlib
import re
from types import FrameType, TracebackType
from typing import Any

#: Import names whose distribution is named differently.
_IMPORT_ALIASES = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
}


def frames(exc: BaseException) -> list[FrameType]:
    """The frames ``exc`` passed through, outermost first."""
    found = []
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        found.append(tb.tb_frame)
        tb = tb.tb_next
    return found


def owner(exc: BaseException, *, importing: bool = False) -> tuple[str, str, str | None] | None:
    """(distribution, version, component) of the innermost Flowy or plugin code that raised.

    With ``importing``, the code that ran the failed import must be theirs: an
    import in the user's own pipeline file is not a plugin's missing module.
    """
    packages = distributions_by_package()
    for frame in reversed(frames(exc)):
        module = str(frame.f_globals.get("__name__", ""))
        if importing and module.startswith(("importlib", "_frozen_importlib")):
            continue  # importlib.import_module() and its machinery
        found = packages.get(module.split(".", maxsplit=1)[0])
        if found is not None:
            this = frame.f_locals.get("self")
            return (*found, component_name(module, None if this is None else type(this)))
        if importing:
            return None
    return None


def distributions_by_package() -> dict[str, tuple[str, str]]:
    """Top-level import package -> (distribution, version), for Flowy and its plugins."""
    from flowy import __version__

    found = {"flowy": ("flowy-core", __version__)}
    with contextlib.suppress(Exception):
        from flowy.kernel.entrypoints import entry_points

        for ep in entry_points():
            found.setdefault(ep.value.split(":")[0].split(".")[0], (ep.distribution, ep.version))
    with contextlib.suppress(Exception):
        from flowy_cli import __version__ as cli_version

        found.setdefault("flowy_cli", ("flowy-cli", cli_version))
    return found


def component_name(module: str, cls: type | None) -> str | None:
    """``materializer 'polars'``: the registered component ``cls`` is (or inherits from
    a registered class of), else the one registration whose target lives in ``module``."""
    from flowy_cli.common import plugin_manager

    if plugin_manager.cache_info().currsize == 0:
        return None  # no plugin manager was built: nothing was resolved through one
    registry: Any = plugin_manager().registry
    by_target: dict[tuple[str, str], str] = {}
    in_module: set[str] = set()
    for kind in sorted(registry.kinds):
        for reg in registry.all(kind):
            target_module, _, attr = reg.target.partition(":")
            label = f"{kind.replace('_', ' ')} {reg.name!r}"
            by_target.setdefault((target_module, attr), label)
            if target_module == module:
                in_module.add(label)
    for klass in cls.__mro__ if cls is not None else ():
        found = by_target.get((klass.__module__, klass.__qualname__))
        if found is not None:
            return found
    return in_module.pop() if len(in_module) == 1 else None


def install_for(dist: str, module: str) -> str:
    """What to ``pip install`` for ``module``: ``dist[extra]`` when dist declares it."""
    from importlib import metadata

    top = module.split(".", maxsplit=1)[0]
    wanted = _normalize(_IMPORT_ALIASES.get(top, top))
    with contextlib.suppress(metadata.PackageNotFoundError):
        for requirement in metadata.requires(dist) or ():
            name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if name is None or _normalize(name.group(1)) != wanted:
                continue
            extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", requirement)
            return f"'{dist}[{extra.group(1)}]'" if extra else name.group(1)
    return _IMPORT_ALIASES.get(top, top)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def option_named(exc: BaseException, frame: FrameType) -> str | None:
    """The option a constructor (running in ``frame``) refused: pydantic's first invalid
    field, else the one of its parameters that the message names."""
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic: the first invalid field
        with contextlib.suppress(Exception):
            loc = errors()[0].get("loc") or ()
            if loc:
                return ".".join(str(part) for part in loc)
    code = frame.f_code
    names = code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]
    text = str(exc)
    return next((n for n in names if re.search(rf"\b{re.escape(n)}\b", text)), None)
