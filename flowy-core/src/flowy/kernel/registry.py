"""The capability registry: component kinds as keys, implementations as dotted paths.

Plugins fill it through registration hooks; stacks look names up in it. A
registration costs nothing until :meth:`Registration.load` imports its target,
so the registry can be built without importing SQLAlchemy, numpy or boto3.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from flowy.kernel.errors import ComponentNotFoundError, PluginLoadError

BUILTIN_KINDS: dict[str, str] = {
    "executor": "flowy.kernel.contracts:Executor",
    "artifact_store": "flowy.kernel.contracts:ArtifactStore",
    "metadata_store": "flowy.kernel.contracts:MetadataStore",
    "materializer": "flowy.kernel.contracts:Materializer",
    "cache": "flowy.kernel.contracts:CacheStrategy",
    # A shared index of cache entries consulted after the metadata store's own cache.
    "cache_index": "flowy.kernel.cache_index:CacheIndex",
    "tracker": "builtins:object",
    # Not a stack component: the classes artifacts recorded from assets are loaded as.
    "asset_type": "flowy.kernel.assets:Asset",
    # Not a stack component: where alerts are sent ([notifiers.NAME] in the project config).
    "notifier": "flowy.kernel.alerting:Notifier",
    # Not a stack component: how flowy-serve calls a model type (flowy_register_predictors).
    "predictor": "builtins:object",
}

#: The kinds every stack must name; the others (tracker, cache, a plugin's own) are optional.
REQUIRED_KINDS = ("executor", "artifact_store", "metadata_store")

#: Which distribution provides a well-known implementation, for install hints
#: (the way fsspec's ``known_implementations`` does it).
KNOWN_PROVIDERS: dict[tuple[str, str], str] = {
    ("executor", "local"): "flowy-executor-local",
    ("executor", "dask"): "flowy-executor-dask",
    ("executor", "sagemaker"): "flowy-aws",
    ("executor", "vertex"): "flowy-gcp",
    ("executor", "azureml"): "flowy-azure",
    ("executor", "ray"): "flowy-executor-ray",
    ("artifact_store", "local"): "flowy-store-sqlite",
    ("artifact_store", "s3"): "flowy-aws",
    ("artifact_store", "gcs"): "flowy-gcp",
    ("artifact_store", "azure_blob"): "flowy-azure",
    ("metadata_store", "sqlite"): "flowy-store-sqlite",
    ("metadata_store", "sql"): "flowy-store-sqlite",
    ("tracker", "mlflow"): "flowy-mlflow",
    ("tracker", "wandb"): "flowy-wandb",
    ("cache_index", "redis"): "flowy-cache-redis",
    ("stack", "aws"): "flowy-aws",
    ("stack", "gcp"): "flowy-gcp",
    ("stack", "azure"): "flowy-azure",
    ("stack", "ray"): "flowy-executor-ray",
    ("stack", "dask"): "flowy-executor-dask",
    ("notifier", "webhook"): "flowy-notifiers",
    ("notifier", "slack"): "flowy-notifiers",
    ("notifier", "discord"): "flowy-notifiers",
    ("notifier", "email"): "flowy-notifiers",
}


class Register(Protocol):
    """The callback a registration hook receives."""

    def __call__(self, name: str, target: str, /, **info: Any) -> None: ...


class RegisterStack(Protocol):
    def __call__(
        self, name: str, components: Mapping[str, Mapping[str, Any]], /, **info: Any
    ) -> None: ...


class RegisterCommand(Protocol):
    def __call__(self, name: str, target: str, /, *, help: str = "") -> None: ...


def import_target(target: str) -> Any:
    """Import ``"pkg.module:attr.sub"`` and return the attribute."""
    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part)
    return obj


@attrs.define
class Registration:
    """One implementation of one kind, as a plugin registered it."""

    kind: str
    name: str
    target: str
    plugin: str
    distribution: str
    version: str
    info: dict[str, Any] = attrs.field(factory=dict)
    _loaded: Any = attrs.field(default=None, repr=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.distribution}:{self.name}"

    def load(self) -> Any:
        """Import and return the target, or raise an error naming the plugin."""
        if self._loaded is None:
            try:
                self._loaded = import_target(self.target)
            except ModuleNotFoundError as exc:
                own = self.target.partition(":")[0].split(".")[0]
                if not exc.name or exc.name.split(".")[0] == own:
                    raise self._import_error(exc) from exc
                raise PluginLoadError(
                    f"The {self.kind.replace('_', ' ')} {self.name!r} from {self.distribution} "
                    f"{self.version} needs the module {exc.name!r}, which is not installed "
                    f"({self.target}: {exc}). Install it (`pip install "
                    f"{exc.name.split('.')[0]}`, or the extra of {self.distribution} that "
                    "provides it) or use another implementation."
                ) from exc
            except Exception as exc:
                raise self._import_error(exc) from exc
        return self._loaded

    def _import_error(self, exc: BaseException) -> PluginLoadError:
        """The plugin's own module is broken: reinstall or fix the distribution."""
        return PluginLoadError(
            f"The {self.kind.replace('_', ' ')} {self.name!r} from {self.distribution} "
            f"{self.version} could not be imported ({self.target}): "
            f"{type(exc).__name__}: {exc}. Reinstall or fix {self.distribution}, "
            f"e.g. `pip install --force-reinstall {self.distribution}`."
        )


@attrs.define
class PluginInfo:
    """What ``flowy plugins`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "loaded"  # loaded | failed | incompatible | disabled
    error: str | None = None
    hooks: list[str] = attrs.field(factory=list)
    provides: dict[str, list[str]] = attrs.field(factory=dict)
    requires_core: str | None = None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class StackOffer:
    """A predefined stack offered by a plugin."""

    name: str
    components: dict[str, dict[str, Any]]
    plugin: str
    distribution: str
    version: str
    description: str = ""
    required_options: dict[str, list[str]] = attrs.field(factory=dict)


@attrs.define
class CommandOffer:
    name: str
    target: str
    help: str
    distribution: str


class Registry:
    """Implementations by kind and name, predefined stacks, and CLI commands."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = dict(BUILTIN_KINDS)
        self._entries: dict[str, dict[str, list[Registration]]] = {k: {} for k in self.kinds}
        self.stacks: dict[str, StackOffer] = {}
        #: Later offers of a stack name already offered: the first offer (flowy-core's
        #: ``local`` before any plugin's) keeps the name; ``flowy plugins check`` reports these.
        self.stack_clashes: dict[str, list[StackOffer]] = {}
        self.commands: dict[str, CommandOffer] = {}
        self.errors: list[tuple[str, str, BaseException]] = []
        """(plugin, hook, error) for registration hooks that raised."""
        self.failed_plugins: list[str] = []
        """Plugins that failed to load or register, as ``dist version (error)``: an error
        about something no installed plugin provides names them (one may have provided it)."""

    # -- filling -----------------------------------------------------------

    def add_kind(self, name: str, base: str = "builtins:object", **_: Any) -> None:
        self.kinds.setdefault(name, base)
        self._entries.setdefault(name, {})

    def add(
        self,
        kind: str,
        name: str,
        target: str,
        *,
        plugin: str,
        distribution: str,
        version: str,
        **info: Any,
    ) -> None:
        if kind not in self._entries:
            raise ValueError(
                f"unknown component kind {kind!r}; known kinds: {', '.join(sorted(self.kinds))}"
            )
        if ":" not in target:
            raise ValueError(f"target {target!r} must look like 'package.module:Attribute'")
        reg = Registration(kind, name, target, plugin, distribution, version, dict(info))
        entries = self._entries[kind].setdefault(name, [])
        entries[:] = [e for e in entries if e.distribution != distribution]
        entries.append(reg)

    def binder(
        self, kind: str, plugin: str, distribution: str, version: str
    ) -> Callable[..., None]:
        """A ``register`` callback for one plugin and one kind."""

        def register(name: str, target: str, /, **info: Any) -> None:
            self.add(
                kind,
                name,
                target,
                plugin=plugin,
                distribution=distribution,
                version=version,
                **info,
            )

        return register

    def offer_stack(self, offer: StackOffer) -> None:
        """Add a plugin's stack; a name already offered keeps its first offer (a clash)."""
        first = self.stacks.setdefault(offer.name, offer)
        if first is not offer and first.distribution != offer.distribution:
            self.stack_clashes.setdefault(offer.name, [first]).append(offer)
        elif first is not offer:
            self.stacks[offer.name] = offer

    # -- reading -----------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries.get(kind, {}))

    def all(self, kind: str) -> list[Registration]:
        """Every registration of a kind, clashing ones included, sorted by name then plugin."""
        regs = [r for entries in self._entries.get(kind, {}).values() for r in entries]
        return sorted(regs, key=lambda r: (r.name, r.distribution))

    def candidates(self, kind: str, name: str) -> list[Registration]:
        """Every registration of ``name`` (unqualified) for ``kind``, by distribution."""
        return sorted(self._entries.get(kind, {}).get(name, []), key=lambda c: c.distribution)

    def clashes(self) -> list[list[Registration]]:
        """Groups of registrations that share a kind and a name."""
        return [
            entries
            for kind_entries in self._entries.values()
            for entries in kind_entries.values()
            if len(entries) > 1
        ]

    def get(self, kind: str, name: str) -> Registration:
        """Find ``name`` (or ``distribution:name``) of ``kind``, or explain why not."""
        if kind not in self._entries:
            raise ComponentNotFoundError(
                f"Unknown component kind {kind!r}. Known kinds: {', '.join(sorted(self.kinds))}. "
                "A plugin can add kinds through the flowy_register_component_kinds hook."
            )
        dist, sep, short = name.rpartition(":")
        candidates = sorted(
            self._entries[kind].get(short if sep else name, []), key=lambda c: c.distribution
        )
        if sep:
            candidates = [c for c in candidates if dist in (c.distribution, c.plugin)]
        if len(candidates) == 1:
            return candidates[0]
        label = kind.replace("_", " ")
        if len(candidates) > 1:
            dists = " and ".join(c.distribution for c in candidates)
            choices = ", ".join(repr(c.qualified_name) for c in candidates)
            raise ComponentNotFoundError(
                f"The {label} {name!r} is registered by both {dists}. "
                f"Name the one you want with a qualified name: {choices}."
            )
        installed = ", ".join(self.names(kind)) or "none"
        provider = KNOWN_PROVIDERS.get((kind, short if sep else name))
        hint = (
            f"It is provided by {provider}: `pip install {provider}`."
            if provider
            else "Install the plugin that provides it (see `flowy plugins`)."
        )
        raise ComponentNotFoundError(
            f"No {label} named {name!r} is installed. Installed {label}s: {installed}. {hint}"
        )
