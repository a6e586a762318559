"""Choosing a materializer for an object, by type name, without importing frameworks.

Materializers are registered with the fully qualified names of the types they
handle. Resolution walks ``type(obj).__mro__`` from the most specific class,
so a ``pandas.DataFrame`` subclass still finds the DataFrame materializer, and
nothing is imported that the object does not already belong to.

Rule for ties (documented in docs/materializers.md): for the first class in the
MRO that any materializer claims, the highest ``priority`` wins, then the
distribution name in alphabetical order, then the materializer name. When the
winner's ``accepts()`` refuses the value (a dict that is not all tensors, an
object-dtype array), the next candidate in that order is asked, then the
claims on later classes of the MRO; pickle comes last, and only when opted in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import metadata
from typing import TYPE_CHECKING, Any

from flowy.kernel.errors import MaterializerNotFoundError, PluginLoadError, UnsafeArtifactError

if TYPE_CHECKING:
    from flowy.kernel.assets import Asset
    from flowy.kernel.contracts import Materializer
    from flowy.kernel.registry import Registration, Registry

#: Materializers that are last resorts: never chosen by type unless opted in.
PICKLE_NAMES = frozenset({"pickle", "cloudpickle"})

#: The key in an artifact's metadata naming the distribution whose materializer wrote it,
#: so that after that plugin is uninstalled the error says what to reinstall. Artifacts
#: written before it was recorded lack the key and get the general hint.
MATERIALIZER_DIST_KEY = "flowy_materializer_distribution"


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _shown_type(cls: type) -> str:
    """A type for an error message: a pipeline file's class as ``pipeline.py:Name``."""
    from flowy.kernel.user_modules import loaded_file, shown_name

    if loaded_file(cls.__module__) is not None:
        return f"{shown_name(cls.__module__)}:{cls.__qualname__}"
    return type_name(cls)


class MaterializerRegistry:
    """Resolves objects to materializer instances; caches per type."""

    def __init__(self, registry: Registry) -> None:
        self._registrations = {r.name: r for r in registry.all("materializer")}
        self._by_type: dict[str, list[Registration]] = {}
        for reg in self._registrations.values():
            for tname in reg.info.get("types", ()):
                self._by_type.setdefault(tname, []).append(reg)
        for regs in self._by_type.values():
            regs.sort(key=lambda r: (-int(r.info.get("priority", 0)), r.distribution, r.name))
        self._instances: dict[str, Materializer] = {}
        self._resolved: dict[type, list[Registration]] = {}
        self._unavailable: dict[str, list[str]] = {}
        self._failed_plugins = list(registry.failed_plugins)
        #: Asset types (flowy_register_asset_types): what a loaded artifact is rewrapped in.
        self._registry = registry

    def _failed_hint(self) -> str:
        """Plugins that did not load: one of them may be the materializer's provider."""
        if not self._failed_plugins:
            return ""
        return (
            f" Plugins that failed to load (one may provide it): {'; '.join(self._failed_plugins)}"
            ". Fix or reinstall them (`flowy plugins check` shows why)."
        )

    def _missing(self, reg: Registration) -> list[str]:
        """:func:`missing_requirements`, looked up once per materializer."""
        if reg.name not in self._unavailable:
            self._unavailable[reg.name] = missing_requirements(reg)
        return self._unavailable[reg.name]

    def by_name(self, name: str, distribution: str | None = None) -> Materializer:
        """The materializer registered as ``name`` (used to load artifacts).

        A framework it ``requires`` that is not installed, or one its module
        fails to import, is an error naming the materializer, its plugin and
        what to install, not an ImportError from deep inside the plugin.
        ``distribution`` (recorded with the artifact) names what to reinstall.
        """
        if name not in self._instances:
            reg = self._registrations.get(name)
            if reg is None:
                install = (
                    f"It came from {distribution}: reinstall it with `pip install {distribution}`."
                    if distribution
                    else "Install the plugin that provides it (see `flowy materializers`)."
                )
                raise MaterializerNotFoundError(
                    f"The artifact was written by the materializer {name!r}, which is not "
                    f"installed. Installed: {', '.join(sorted(self._registrations)) or 'none'}. "
                    + install
                    + self._failed_hint()
                )
            missing = self._missing(reg)
            if missing:
                raise missing_framework_error(reg, missing[0])
            with framework_errors(reg):
                self._instances[name] = reg.load()()
        return self._instances[name]

    def guard(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Around a materializer's ``save``/``load``: a missing module names the plugin."""
        reg = self._registrations.get(name)
        return framework_errors(reg) if reg is not None else contextlib.nullcontext()

    def explain(self, cls: type) -> list[tuple[str, list[str]]]:
        """For each class in the MRO, the materializers that claim it (for `which`)."""
        return [
            (type_name(k), [r.name for r in self._by_type.get(type_name(k), [])])
            for k in cls.__mro__
        ]

    def _for_type(self, cls: type) -> list[Registration]:
        """Every non-pickle candidate for ``cls``, in the order they are asked."""
        if cls not in self._resolved:
            self._resolved[cls] = [
                r
                for klass in cls.__mro__
                for r in self._by_type.get(type_name(klass), [])
                if r.name not in PICKLE_NAMES
            ]
        return self._resolved[cls]

    def resolve(self, obj: Any, *, allow_pickle: bool = False) -> tuple[Registration, Materializer]:
        """The registration and instance that will write ``obj``."""
        candidates = self._for_type(type(obj))
        unavailable: list[Registration] = []
        for reg in candidates:
            if self._missing(reg):
                # e.g. the torch materializer asked about a plain dict without torch installed
                unavailable.append(reg)
                continue
            materializer = self.by_name(reg.name)
            if materializer.accepts(obj):
                return reg, materializer
        if allow_pickle:
            for name in ("cloudpickle", "pickle"):
                if name in self._registrations:
                    return self._registrations[name], self.by_name(name)
        cls = type(obj)
        for reg in unavailable:  # claimed by type, not as a builtin fallback: name what's missing
            claims = reg.info.get("types", ())
            if any(k.__module__ != "builtins" and type_name(k) in claims for k in cls.__mro__):
                raise missing_framework_error(reg, self._missing(reg)[0])
        reason = (
            f"the {' and '.join(repr(r.name) for r in candidates)} materializer refused this value"
            if candidates
            else "no installed materializer handles it"
        )
        hint = _install_hint(cls)
        register = "Or register" if hint else "Register"  # an "Or" needs an alternative before it
        raise MaterializerNotFoundError(
            f"Cannot store an output of type {_shown_type(cls)}: {reason}. {hint}"
            f"{register} a materializer for it through the flowy_register_materializers hook "
            "(see docs/materializers.md), or opt in to pickle with `@step(allow_pickle=True)` "
            "if you trust every reader of the store." + self._failed_hint()
        )

    def asset_class(self, type_name: str) -> type[Asset] | None:
        """The class registered for the asset type ``type_name``; None when none is.

        Imported on first use (the registration is a dotted path). A name registered
        by two distributions is an error naming both, as for any component; a
        registered target that is not an :class:`~flowy.kernel.assets.Asset` class
        is an error naming its plugin.
        """
        from flowy.kernel.assets import Asset

        if not self._registry.candidates("asset_type", type_name):
            return None
        reg = self._registry.get("asset_type", type_name)
        cls = reg.load()
        if not (isinstance(cls, type) and issubclass(cls, Asset)):
            raise PluginLoadError(
                f"The asset type {type_name!r} from {reg.distribution} {reg.version} is "
                f"{reg.target}, which is not a subclass of flowy.kernel.assets.Asset; "
                f"fix or reinstall {reg.distribution}."
            )
        return cls

    def check_loadable(self, name: str, allow_pickle: bool) -> None:
        reg = self._registrations.get(name)
        if reg is not None and not reg.info.get("safe", True) and not allow_pickle:
            raise UnsafeArtifactError(f"materializer {name!r} needs allow_pickle")


def missing_requirements(reg: Registration) -> list[str]:
    """The import names a registration ``requires`` that cannot be found (nothing imported)."""
    import importlib.util

    missing = []
    for module in reg.info.get("requires", ()) or ():
        try:
            found = importlib.util.find_spec(str(module)) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(str(module))
    return missing


def missing_framework_error(
    reg: Registration, module: str, cause: BaseException | None = None
) -> MaterializerNotFoundError:
    """The error for a materializer whose framework ``module`` is not installed."""
    install = reg.info.get("install") or module.split(".", maxsplit=1)[0]
    because = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return MaterializerNotFoundError(
        f"The materializer {reg.name!r} from {reg.distribution} {reg.version} needs the module "
        f"{module!r}, which is not installed here{because}. Install it with `pip install "
        f"'{install}'` and run the command again (`flowy materializers` lists what each "
        "materializer needs)."
    )


@contextlib.contextmanager
def framework_errors(reg: Registration) -> Iterator[None]:
    """Turn a missing module inside ``reg``'s code into :func:`missing_framework_error`.

    ``Registration.load`` reports import failures as a PluginLoadError chained
    to the ModuleNotFoundError; both shapes are recognised.
    """
    try:
        yield
    except (ModuleNotFoundError, PluginLoadError) as exc:
        cause = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        if not isinstance(cause, ModuleNotFoundError) or not cause.name:
            raise
        if cause.name.split(".")[0] == reg.target.split(":")[0].split(".")[0]:
            raise  # the plugin's own module is missing: reinstall it, as the error says
        raise missing_framework_error(reg, cause.name, cause) from exc


_FRAMEWORK_HINTS = {
    "numpy": "flowy-materializers",
    "pandas": "flowy-materializers",
    "sklearn": "flowy-materializers",
    "torch": "flowy-materializers",
    "tensorflow": "flowy-materializers",
    "keras": "flowy-materializers",
}


def _install_hint(cls: type) -> str:
    root = cls.__module__.split(".")[0]
    dist = _FRAMEWORK_HINTS.get(root)
    if dist is None:
        return ""
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return f"`pip install {dist}` adds materializers for {root}. "
    return ""
