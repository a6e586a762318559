"""The old module paths keep working for one release, and say where the names went.

Issue 19 moved every module of flowy-core into layers. Each old path (``flowy.records``,
``flowy.worker``, ``flowy.builtin.json_materializer``, ...) is a shim built by
:func:`flowy._moved.forward`: ``from flowy.<old> import X`` warns with a
:class:`DeprecationWarning` naming the new module and returns the very same object. The old
names of ``flowy.artifacts`` and ``flowy.stacks``, now packages, are their public API and
import without a warning. These tests hold every shim to that, name by name.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from types import ModuleType

import flowy
import flowy.builtin
import pytest
from flowy import _moved

REPO = Path(__file__).resolve().parents[2]


def _modules_of(package: ModuleType) -> list[ModuleType]:
    infos = pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}.")
    return [importlib.import_module(i.name) for i in infos if not i.ispkg]


def _is_shim(module: ModuleType) -> bool:
    forwarder = vars(module).get("__getattr__")
    return getattr(forwarder, "__module__", None) == "flowy._moved"


#: Every old path, found on disk (importing a shim warns nothing: only its attributes do).
SHIMS = sorted(
    m.__name__ for m in [*_modules_of(flowy), *_modules_of(flowy.builtin)] if _is_shim(m)
)


def _public_names(module: ModuleType) -> set[str]:
    """What a module defines at its top level and does not mark private, plus its __all__."""
    names = set(getattr(module, "__all__", ()))
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return {n for n in names if not n.startswith("_")}


def _where(old: str) -> dict[str, str]:
    """Each name the old path offers -> the module it now comes from."""
    new, elsewhere = _moved.MOVED[old]
    where = dict.fromkeys(_public_names(importlib.import_module(new)), new)
    for name, module in elsewhere.items():
        where[name] = module
    return where


def test_there_are_shims_and_each_is_registered() -> None:
    assert len(SHIMS) > 40
    assert set(SHIMS) == set(_moved.MOVED)


@pytest.mark.parametrize("old", SHIMS)
def test_from_old_path_import_warns_and_returns_the_same_object(old: str) -> None:
    where = _where(old)
    assert where, f"{old} forwards no public name"
    for name, module in sorted(where.items()):
        namespace: dict[str, object] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(f"from {old} import {name}", namespace)
        assert namespace[name] is getattr(importlib.import_module(module), name), (old, name)
        messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
        assert messages == [
            f"{old} is deprecated: import {name} from {module} instead "
            f"(the old path is removed in Flowy {_moved.REMOVED_IN})"
        ], (old, name, messages)


def test_the_warning_points_at_the_importing_line() -> None:
    with pytest.warns(
        DeprecationWarning, match=r"import RunRecord from flowy\.kernel\.records"
    ) as w:
        from flowy.records import RunRecord  # noqa: F401
    assert w[0].filename == __file__


@pytest.mark.parametrize("old", SHIMS)
def test_dir_and_dunder_probes_of_an_old_path_do_not_warn(old: str) -> None:
    module = importlib.import_module(old)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert set(_where(old)) <= set(dir(module))
        assert not hasattr(module, "__wrapped__")  # what copy, pickle and doctest ask


def test_an_unknown_name_on_an_old_path_names_both_paths() -> None:
    with pytest.raises(AttributeError, match=r"'flowy\.worker' \(now 'flowy\.run\.worker'\)"):
        _ = importlib.import_module("flowy.worker").no_such_name


@pytest.mark.parametrize(
    ("package", "old_module"),
    [("flowy.artifacts", "flowy.artifacts.store_io"), ("flowy.stacks", "flowy.stacks.definitions")],
)
def test_old_names_of_the_artifacts_and_stacks_modules_import_without_a_warning(
    package: str, old_module: str
) -> None:
    """``flowy.artifacts`` and ``flowy.stacks`` were modules; as packages they keep their names."""
    lazy: dict[str, str] = importlib.import_module(package)._LAZY
    old_names = [name for name, target in lazy.items() if target == old_module]
    assert old_names
    for name in old_names:
        namespace: dict[str, object] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            exec(f"from {package} import {name}", namespace)
        assert namespace[name] is getattr(importlib.import_module(old_module), name)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "from flowy.worker import execute_attempt",
            "flowy.worker is deprecated: import execute_attempt from flowy.run.worker instead",
        ),
        (
            "from flowy.builtin.json_materializer import JsonMaterializer",
            "flowy.builtin.json_materializer is deprecated: import JsonMaterializer from "
            "flowy.artifacts.json_materializer instead",
        ),
    ],
)
def test_an_old_path_fails_a_program_that_turns_deprecations_into_errors(
    statement: str, message: str
) -> None:
    """What a plugin author's CI sees with ``-W error::DeprecationWarning``: the way out."""
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", statement],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"DeprecationWarning: {message}" in done.stderr, done.stderr


def test_the_import_contract_forbids_exactly_the_old_paths() -> None:
    """The ``no-deprecated-paths`` contract lists every shim, so no code may import one."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    (contract,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "no-deprecated-paths"
    ]
    assert sorted(contract["forbidden_modules"]) == SHIMS
