"""The public surfaces of flowy-core point at real names in the layers, never at an old path.

``flowy``, ``flowy.testing`` and the layer packages (``flowy.artifacts``, ``flowy.stacks``,
``flowy.run``, ``flowy.tracking``) re-export names from their submodules through a lazy map
(:func:`flowy.kernel.lazy_exports`); the registry holds dotted paths
(``"flowy.run.caching:CodeHash"``).
Both are strings, so moving a name leaves them pointing at nothing, or at a deprecated shim,
without any import failing. These tests resolve every entry, check that the map, ``__all__``
and the type-checking imports say the same thing, and that importing a package stays cheap.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import warnings
from types import ModuleType

import pytest
from flowy.kernel import split_target
from flowy.kernel.plugins import BUILTIN_PLUGINS, FlowyPlugins
from flowy.kernel.registry import BUILTIN_KINDS, import_target

PUBLIC_PACKAGES = [
    "flowy",
    "flowy.testing",
    "flowy.artifacts",
    "flowy.stacks",
    "flowy.run",
    "flowy.tracking",
    "flowy.remote_jobs",
]
#: Names ``flowy`` defines itself rather than through its lazy map.
EAGER = {"flowy": {"__version__", "hookimpl"}}


def _is_shim(module: ModuleType) -> bool:
    """A deprecated old path: its attributes come from flowy._moved's forwarding __getattr__."""
    forwarder = vars(module).get("__getattr__")
    return getattr(forwarder, "__module__", None) == "flowy._moved"


def _lazy_map(package: str) -> dict[str, str]:
    lazy: dict[str, str] = importlib.import_module(package)._LAZY
    return lazy


def _entries() -> list[tuple[str, str, str]]:
    return [
        (pkg, name, target) for pkg in PUBLIC_PACKAGES for name, target in _lazy_map(pkg).items()
    ]


@pytest.mark.parametrize(("package", "name", "target"), _entries())
def test_every_lazy_entry_resolves_to_a_layer_module_without_a_warning(
    package: str, name: str, target: str
) -> None:
    module_name, attribute = split_target(target, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # an old path here would warn
        module = importlib.import_module(module_name)
        value = getattr(importlib.import_module(package), name)
    assert not _is_shim(module), f"{package}.{name} points at the deprecated {module_name}"
    assert value is getattr(module, attribute)


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_all_the_map_and_the_type_checking_imports_agree(package: str) -> None:
    """``__all__`` lists the map; each name has a ``from M import A as NAME`` for mypy."""
    module = importlib.import_module(package)
    lazy = _lazy_map(package)
    assert sorted(module.__all__) == sorted({*lazy, *EAGER.get(package, set())})
    typed: dict[str, str] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
                for alias in stmt.names:
                    public = alias.asname or alias.name
                    suffix = "" if alias.name == public else f":{alias.name}"
                    typed[public] = f"{stmt.module}{suffix}"
    assert typed == lazy


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_no_public_name_is_also_a_submodule(package: str) -> None:
    """Importing ``package.x`` sets the attribute ``x``: a public name ``x`` would be shadowed."""
    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert submodules.isdisjoint(_lazy_map(package))


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_dir_shows_the_public_names_and_unknown_names_raise(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = module.no_such_name


def test_a_name_is_stored_in_the_package_on_first_access() -> None:
    """Later reads are plain attribute reads: a module __getattr__ call costs microseconds."""
    import flowy.run
    import flowy.run.worker

    vars(flowy.run).pop("execute_attempt", None)
    assert flowy.run.execute_attempt is flowy.run.worker.execute_attempt
    assert vars(flowy.run)["execute_attempt"] is flowy.run.worker.execute_attempt


def _registry_targets() -> list[str]:
    plugins = FlowyPlugins()
    plugins.register_builtins()
    registry = plugins.registry
    targets = {*BUILTIN_KINDS.values(), *registry.kinds.values()}
    targets |= {reg.target for kind in registry.kinds for reg in registry.all(kind)}
    return sorted(targets)


@pytest.mark.parametrize("target", _registry_targets())
def test_every_builtin_registry_path_resolves_outside_the_old_paths(target: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        import_target(target)
    module = importlib.import_module(target.partition(":")[0])
    assert not _is_shim(module), f"{target} names a deprecated module"


@pytest.mark.parametrize("name", BUILTIN_PLUGINS)
def test_builtin_plugins_are_layer_modules(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        module = importlib.import_module(name)
    assert not _is_shim(module)


def test_importing_the_public_packages_imports_none_of_their_submodules() -> None:
    """``import flowy`` and the layer packages cost a few small modules, as before the layers."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import flowy, flowy.artifacts, flowy.stacks, flowy.run, flowy.tracking, flowy.testing\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('flowy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ast.literal_eval(done.stdout.strip()) == [
        "flowy",
        "flowy.artifacts",
        "flowy.kernel",
        "flowy.kernel.markers",
        "flowy.run",
        "flowy.stacks",
        "flowy.testing",
        "flowy.tracking",
    ]


def test_the_shim_check_recognises_an_old_path() -> None:
    """Guards the guard: importing an old-path module warns nothing, so look at its forwarder."""
    assert _is_shim(importlib.import_module("flowy.worker"))
    assert not _is_shim(importlib.import_module("flowy.run.worker"))
