"""Loading a pipeline from a file: ``path/to/file.py[:PIPELINE]``.

The file is imported as a module under a stable name derived from its
resolved path (``flowy_user_<stem>_<hash>``, see :mod:`flowy.kernel.user_modules`),
so step references recorded in tasks (:class:`flowy.kernel.records.StepRef`) name
the same module in every process,
and ``module.__flowy_path__`` tells workers and the code hasher where the
source is. The file's folder goes on ``sys.path`` so it can import its
sibling modules, as ``python file.py`` would allow.

Every way this can go wrong is a :class:`~flowy.kernel.errors.FlowyError` that says
what to fix: a missing file, a syntax error (``file:line``), an exception at
import (the line in the user's file), no pipeline, or several and none named.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from flowy.kernel.errors import FlowyError
from flowy.kernel.user_modules import INTERNAL_NAME, importable_name, module_name_for

if TYPE_CHECKING:
    from flowy.run.pipeline import Pipeline


class PipelineLoadError(FlowyError):
    """A pipeline file cannot be found, imported, or has no (unique) pipeline."""


def split_spec(spec: str) -> tuple[Path, str | None]:
    """``"dir/file.py:train"`` -> ``(Path("dir/file.py"), "train")``; the name is optional."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail and head and not re.search(r"[\\/]", tail):
        return Path(head), tail
    return Path(spec), None


def import_recorded(module_name: str, project: Path | None = None) -> ModuleType:
    """Import a module by the name :func:`importable_name` recorded.

    In order: a module already imported under that name; the project's file
    of that module path (loaded as ``flowy run`` loads it, so a class is the
    same object as in a pipeline this process already loaded); a file loaded
    by path and recorded under that name; then a normal import (an installed
    package). An internal ``flowy_user_…`` name, as earlier versions recorded
    it, is matched to the project file it was derived from.
    """
    from flowy.kernel.config import project_root

    root = (project or project_root()).resolve()
    legacy = INTERNAL_NAME.fullmatch(module_name)
    if legacy is not None and module_name not in sys.modules:
        for file in root.rglob(f"{legacy['stem']}.py"):
            hidden = any(p.startswith(".") for p in file.relative_to(root).parts)
            if not hidden and module_name_for(file) == module_name:
                return load_module(file)
    if module_name in sys.modules:
        return sys.modules[module_name]
    base = root.joinpath(*module_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if module_name.replace(".", "").isidentifier() and candidate.is_file():
            return load_module(candidate)
    for name in [n for n, m in list(sys.modules.items()) if hasattr(m, "__flowy_path__")]:
        if importable_name(name) == module_name:
            return sys.modules[name]
    return importlib.import_module(module_name)


def load_module(path: Path) -> ModuleType:
    """Import ``path`` as a module (once per process), with clear errors."""
    path = path.expanduser()
    if not path.is_file():
        hint = " It is a folder; name a .py file in it." if path.is_dir() else ""
        raise PipelineLoadError(f"Pipeline file {path} does not exist.{hint}")
    resolved = path.resolve()
    name = module_name_for(resolved)
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__flowy_path__", None) == str(resolved):
        return existing
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path} cannot be imported as a Python module; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    module.__flowy_path__ = str(resolved)  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except FlowyError:
        sys.modules.pop(name, None)
        raise
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        where = f"{exc.filename or path}:{exc.lineno}"
        line = f": {exc.text.strip()}" if exc.text else ""
        raise PipelineLoadError(
            f"{where}: syntax error: {exc.msg}{line}. Fix the file and run again."
        ) from exc
    except Exception as exc:
        sys.modules.pop(name, None)
        raise PipelineLoadError(
            f"Importing {path} failed{_user_line(exc, resolved)}: {type(exc).__name__}: {exc}. "
            "Run `flowy --debug ...` for the full traceback."
        ) from exc
    return module


def _user_line(exc: BaseException, path: Path) -> str:
    """`` at file:line`` for the deepest frame in the user's file, if any."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    if not frames:
        return ""
    return f" at {path}:{frames[-1].lineno}"


def load_pipeline(spec: str | Path) -> Pipeline:
    """The pipeline that ``spec`` (``file.py`` or ``file.py:NAME``) names.

    ``NAME`` matches the variable holding the pipeline or the pipeline's own
    name. Without it the file must define exactly one pipeline.
    """
    from flowy.run.pipeline import Pipeline

    path, wanted = split_spec(str(spec))
    module = load_module(path)
    found = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    if wanted is not None:
        if wanted in found:
            return found[wanted]
        by_name = [p for p in found.values() if p.name == wanted]
        if len(by_name) == 1:
            return by_name[0]
        raise PipelineLoadError(
            f"{path} has no pipeline named {wanted!r}. Pipelines there: {_describe(found)}."
        )
    unique = {id(p): p for p in found.values()}
    if len(unique) == 1:
        return next(iter(unique.values()))
    if not unique:
        raise PipelineLoadError(
            f"{path} defines no pipeline. Create one at module level, e.g. "
            "`pipeline = Pipeline('my-pipeline', steps=[...])`."
        )
    raise PipelineLoadError(
        f"{path} defines several pipelines ({_describe(found)}); name one: "
        f"`{path}:{sorted(found)[0]}`."
    )


def _describe(found: dict[str, Pipeline]) -> str:
    if not found:
        return "none"
    return ", ".join(
        f"{var} ({p.name!r})" if var != p.name else var for var, p in sorted(found.items())
    )
