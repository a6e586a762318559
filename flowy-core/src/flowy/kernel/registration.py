"""Building the registry: each registration hook called once, each plugin isolated.

When a plugin manager's registry is first read (:attr:`flowy.kernel.plugins.FlowyPlugins.registry`),
:class:`RegistryBuilder` calls every registration hook, component kinds first, giving
each implementation a ``register`` callback bound to its plugin, distribution and
version, so every registration records who made it. A hook that raises, a stack
offered without a required kind, or a stack name already offered by another
distribution marks that plugin ``failed`` in its :class:`~flowy.kernel.registry.PluginInfo`
(``flowy plugins check`` shows why) and the others go on; with ``strict`` (as
``FLOWY_STRICT_PLUGINS=1`` sets it) the first such failure raises instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import pluggy

from flowy.kernel.errors import PluginLoadError
from flowy.kernel.registry import REQUIRED_KINDS, CommandOffer, PluginInfo, Registry, StackOffer

#: Registration hook name -> component kind it fills.
REGISTRATION_HOOKS: dict[str, str] = {
    "flowy_register_executors": "executor",
    "flowy_register_artifact_stores": "artifact_store",
    "flowy_register_metadata_stores": "metadata_store",
    "flowy_register_materializers": "materializer",
    "flowy_register_cache_strategies": "cache",
    "flowy_register_trackers": "tracker",
    "flowy_register_cache_indexes": "cache_index",
    "flowy_register_asset_types": "asset_type",
    "flowy_register_notifiers": "notifier",
    "flowy_register_predictors": "predictor",
}

#: Makes the ``register`` callback one plugin's hook receives, from (plugin, distribution,
#: version).
MakeRegister = Callable[[str, str, str], Callable[..., None]]


def call_one(pm: pluggy.PluginManager, hook_name: str, impl: Any, kwargs: dict[str, Any]) -> Any:
    """Call one implementation through pluggy (so tracing and monitoring see it)."""
    return pm._hookexec(hook_name, [impl], kwargs, False)


class RegistryBuilder:
    """Fills a fresh :class:`~flowy.kernel.registry.Registry` from one manager's plugins.

    ``infos`` are the manager's plugin records, updated in place (status, error,
    what each provides); ``describe`` names a plugin in messages as the manager does.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        infos: Mapping[str, PluginInfo],
        *,
        strict: bool,
        describe: Callable[[str], str],
    ) -> None:
        self.pm = pm
        self.infos = infos
        self.strict = strict
        self.describe = describe
        self.registry = Registry()

    def build(self) -> Registry:
        registry = self.registry
        self._call_each("flowy_register_component_kinds", lambda p, d, v: registry.add_kind)
        for hook_name, kind in REGISTRATION_HOOKS.items():
            self._call_each(hook_name, functools.partial(registry.binder, kind))
        self._call_each("flowy_register_stacks", self._stack_binder)
        self._report_stack_clashes()
        self._call_each("flowy_register_commands", self._command_binder)
        registry.failed_plugins = [
            f"{self.describe(name)} ({info.error})"
            for name, info in sorted(self.infos.items())
            if info.status in ("failed", "incompatible")
        ]
        for kind in registry.kinds:
            for reg in registry.all(kind):
                info = self.infos.get(reg.plugin)
                if info is not None:
                    info.provides.setdefault(kind, []).append(reg.name)
        return registry

    def _call_each(self, hook_name: str, make_register: MakeRegister) -> None:
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            info = self.infos.get(impl.plugin_name)
            dist = info.distribution if info else impl.plugin_name
            version = info.version if info else "unknown"
            try:
                call_one(
                    self.pm,
                    hook_name,
                    impl,
                    {"register": make_register(impl.plugin_name, dist, version)},
                )
            except Exception as exc:
                self.registry.errors.append((impl.plugin_name, hook_name, exc))
                if info is not None:
                    info.status = "failed"
                    info.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
                if self.strict:
                    raise PluginLoadError(
                        f"Plugin {impl.plugin_name} ({dist}) raised in {hook_name}: {exc}"
                    ) from exc

    def _plugin_error(self, plugin: str, hook: str, message: str) -> None:
        """A plugin registered something unusable: it is failed, and `plugins check` says why."""
        self.registry.errors.append((plugin, hook, PluginLoadError(message)))
        info = self.infos.get(plugin)
        if info is not None:
            info.status = "failed"
            info.error = f"{info.error}; {message}" if info.error else message
        if self.strict:
            raise PluginLoadError(f"Plugin {self.describe(plugin)}: {message}")

    def _report_stack_clashes(self) -> None:
        for name, offers in self.registry.stack_clashes.items():
            first = offers[0]
            for later in offers[1:]:
                self._plugin_error(
                    later.plugin,
                    "flowy_register_stacks",
                    f"its stack {name!r} clashes with the stack {name!r} of "
                    f"{first.distribution}, which keeps the name; rename the plugin's stack "
                    f"(e.g. '{later.distribution.removeprefix('flowy-')}-{name}')",
                )

    def _stack_binder(self, plugin: str, dist: str, version: str) -> Callable[..., None]:
        def register(name: str, components: Any, /, **info: Any) -> None:
            missing = [k for k in REQUIRED_KINDS if k not in components]
            if missing:
                self._plugin_error(
                    plugin,
                    "flowy_register_stacks",
                    f"its stack {name!r} has no {', '.join(missing)}; every stack needs "
                    f"{', '.join(REQUIRED_KINDS)}: add them to the components it registers",
                )
                return
            self.registry.offer_stack(
                StackOffer(
                    name=name,
                    components={k: dict(v) for k, v in components.items()},
                    plugin=plugin,
                    distribution=dist,
                    version=version,
                    description=info.get("description", ""),
                    required_options={
                        k: list(v) for k, v in info.get("required_options", {}).items()
                    },
                )
            )

        return register

    def _command_binder(self, plugin: str, dist: str, version: str) -> Callable[..., None]:
        def register(name: str, target: str, /, *, help: str = "") -> None:
            self.registry.commands[name] = CommandOffer(name, target, help, dist)

        return register
