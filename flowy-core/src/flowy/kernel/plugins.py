"""The plugin manager: pluggy plus the ``flowy`` entry-point group.

Nothing here runs at import. :func:`create_plugin_manager` builds a manager;
entry points are read and imported when it is built, and registration hooks
are called when :attr:`FlowyPlugins.registry` is first read
(:mod:`flowy.kernel.registration` builds it). A plugin made for another
flowy-core is found out by :mod:`flowy.kernel.compat` and not imported.

Failure isolation: a plugin whose module fails to import, or whose
registration hook raises, is recorded in :attr:`FlowyPlugins.infos` with its
error and skipped; only a stack that needs one of its components fails
(with a message naming it). ``FLOWY_STRICT_PLUGINS=1`` makes such failures
fatal instead, for plugin authors and CI.

Environment escape hatches (documented in docs/plugins.md):

* ``FLOWY_LOAD_PLUGINS=a,b`` loads only these distributions (empty: none).
* ``FLOWY_DISABLE_PLUGINS=a,b`` skips these distributions.
* ``FLOWY_STRICT_PLUGINS=1`` turns load failures into errors.
* ``FLOWY_TRACE_PLUGINS=1`` prints every hook call, its plugin and duration on stderr.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from flowy.kernel import hookspecs
from flowy.kernel.compat import CORE_DISTRIBUTION
from flowy.kernel.errors import PluginLoadError
from flowy.kernel.registration import RegistryBuilder, call_one
from flowy.kernel.registry import PluginInfo, Registry

if TYPE_CHECKING:
    from flowy.kernel.entrypoints import FlowyEntryPoint

ENTRY_POINT_GROUP = "flowy"  # flowy.kernel.entrypoints.GROUP

#: Built-in plugins, registered exactly like external ones (as pytest does).
BUILTIN_PLUGINS: tuple[str, ...] = ("flowy.builtin.plugin",)


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def _dist_version(dist: str) -> str:
    if dist == CORE_DISTRIBUTION:
        from flowy.kernel.markers import __version__

        return __version__
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


class FlowyPlugins:
    """A pluggy manager with Flowy's registry and per-plugin provenance."""

    def __init__(self, *, strict: bool | None = None) -> None:
        self.pm = pluggy.PluginManager("flowy")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        #: Plugins registered for one run (trackers), by pluggy name -> what messages call them.
        self.labels: dict[str, str] = {}
        if strict is None:
            strict = os.environ.get("FLOWY_STRICT_PLUGINS", "") not in ("", "0")
        self.strict = strict
        if os.environ.get("FLOWY_TRACE_PLUGINS", "") not in ("", "0"):
            self._enable_tracing()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- loading -----------------------------------------------------------

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register a plugin object (a module or an instance) under ``name``."""
        distribution = distribution or name
        if version is None:  # a distribution already loaded through its entry point says it
            known = (i.version for i in self.infos.values() if i.distribution == distribution)
            version = next(known, None) or _dist_version(distribution)
        self.pm.register(plugin, name=name)
        self.infos[name] = PluginInfo(
            name=name,
            distribution=distribution,
            version=version,
            module=getattr(plugin, "__name__", type(plugin).__name__),
            hooks=sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or ()),
        )
        self._registry = None

    def register_tracker(self, tracker: object, name: str, checked: Any = None) -> None:
        """Register a stack's tracker for one run; messages name its type and distribution."""
        self.pm.register(tracker, name=name)
        if checked is not None:
            self.labels[name] = (
                f"tracker {checked.type!r} from {checked.distribution} {checked.version}"
            )
        else:
            self.labels[name] = f"tracker {type(tracker).__name__}"

    def unregister_tracker(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.labels.pop(name, None)

    def describe(self, plugin_name: str) -> str:
        """A plugin as messages name it: its distribution, version and what it is."""
        if plugin_name in self.labels:
            return self.labels[plugin_name]
        info = self.infos.get(plugin_name)
        if info is None:
            return plugin_name
        dist = info.distribution
        if info.version != "unknown":
            dist = f"{dist} {info.version}"
        return dist if info.name == info.distribution else f"{info.name} ({dist})"

    def warn_failed(self) -> None:
        """Warn about every plugin that failed to load (a run goes on without them).

        Called when a run starts: a missing tracker or materializer is then no mystery.
        """
        failed = self.registry.failed_plugins
        if failed:
            import warnings

            warnings.warn(
                f"{len(failed)} plugin(s) failed to load, and this run goes on without them: "
                f"{'; '.join(failed)}. Fix or reinstall them (`flowy plugins check` lists "
                "every failure), or skip them with FLOWY_DISABLE_PLUGINS.",
                RuntimeWarning,
                stacklevel=2,
            )

    def call_one(self, hook_name: str, impl: Any, kwargs: dict[str, Any]) -> Any:
        """Call one implementation through pluggy (so tracing and monitoring see it)."""
        return call_one(self.pm, hook_name, impl, kwargs)

    def register_builtins(self) -> None:
        import importlib

        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.register(module, CORE_DISTRIBUTION, CORE_DISTRIBUTION)

    def load_entrypoints(self, eps: Iterable[FlowyEntryPoint] | None = None) -> None:
        """Import every plugin in the ``flowy`` group, isolating failures.

        The group is read through :func:`entry_points`, cached while nothing
        installed changes.
        """
        only = _env_list("FLOWY_LOAD_PLUGINS")
        disabled = set(_env_list("FLOWY_DISABLE_PLUGINS") or ())
        if eps is None:
            eps = entry_points()
        for ep in eps:
            dist, version = ep.distribution, ep.version
            names = {ep.name, dist}
            if ep.name in self.infos or self.pm.has_plugin(ep.name):
                continue
            if (only is not None and not names & set(only)) or names & disabled:
                self.infos[ep.name] = PluginInfo(
                    ep.name,
                    dist,
                    version,
                    ep.value,
                    status="disabled",
                    error="disabled by FLOWY_LOAD_PLUGINS / FLOWY_DISABLE_PLUGINS",
                )
                continue
            requires_core, problem = ep.requires_core, ep.problem
            if problem is not None:
                self._failed(
                    ep.name,
                    dist,
                    version,
                    ep.value,
                    PluginLoadError(problem),
                    status="incompatible",
                )
                self.infos[ep.name].requires_core = requires_core
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is isolated and reported
                self._failed(ep.name, dist, version, ep.value, exc)
                continue
            self.register(plugin, ep.name, dist, version)
            self.infos[ep.name].requires_core = requires_core

    def _failed(
        self,
        name: str,
        dist: str,
        version: str,
        module: str,
        exc: BaseException,
        *,
        status: str = "failed",
    ) -> None:
        message = str(exc) if status == "incompatible" else f"{type(exc).__name__}: {exc}"
        self.infos[name] = PluginInfo(name, dist, version, module, status=status, error=message)
        if self.strict:
            raise PluginLoadError(
                f"Plugin {name} ({dist} {version}) failed to load: {message}. "
                "FLOWY_STRICT_PLUGINS is set, so this is fatal."
            ) from exc

    # -- registry ----------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """Build the registry on first use by calling every registration hook."""
        if self._registry is None:
            builder = RegistryBuilder(
                self.pm, self.infos, strict=self.strict, describe=self.describe
            )
            self._registry = builder.build()
        return self._registry

    # -- tracing -----------------------------------------------------------

    def _enable_tracing(self) -> None:
        starts: dict[int, float] = {}

        def before(hook_name: str, impls: Sequence[Any], kwargs: Any) -> None:
            starts[id(kwargs)] = time.perf_counter()

        def after(outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Any) -> None:
            elapsed = (time.perf_counter() - starts.pop(id(kwargs), time.perf_counter())) * 1000
            plugins = ", ".join(self.describe(i.plugin_name) for i in impls) or "-"
            print(f"[flowy trace] {hook_name} plugins={plugins} {elapsed:.2f} ms", file=sys.stderr)

        self.pm.add_hookcall_monitoring(before, after)


def entry_points() -> list[FlowyEntryPoint]:
    """The installed ``flowy`` entry points, cached in FLOWY_HOME (see kernel.entrypoints)."""
    from flowy.kernel.entrypoints import entry_points as cached

    return cached()


def create_plugin_manager(
    *,
    entrypoints: bool = True,
    plugins: Sequence[tuple[str, object]] = (),
    strict: bool | None = None,
) -> FlowyPlugins:
    """Build a fresh manager: built-ins, then entry points (unless disabled), then ``plugins``.

    Tests pass ``entrypoints=False`` and the plugins they test, so they never
    depend on what happens to be installed. ``strict`` overrides
    ``FLOWY_STRICT_PLUGINS`` (``flowy plugins check`` collects every failure).
    """
    manager = FlowyPlugins(strict=strict)
    manager.register_builtins()
    if entrypoints:
        manager.load_entrypoints()
    for name, plugin in plugins:
        manager.register(plugin, name)
    return manager
