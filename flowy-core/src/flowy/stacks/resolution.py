"""Stacks resolved: each component of a stack checked against the registry, then built.

:func:`check_stack` finds every component of a :class:`~flowy.stacks.definitions.StackDefinition`
among the registered ones (by type, and by distribution where names clash) and validates
its options, without constructing anything, so ``flowy stack describe`` and ``plugins check``
can report every problem at once; :func:`resolve_stack` constructs the components of the
active (or named) stack for a run. Stack files themselves are read by
:mod:`flowy.stacks.definitions`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.config import project_root
from flowy.kernel.errors import ComponentNotFoundError, ConfigError, FlowyError, PluginLoadError
from flowy.kernel.records import ComponentSpec
from flowy.kernel.redact import mask, scrub, secret_values
from flowy.kernel.registry import KNOWN_PROVIDERS, REQUIRED_KINDS
from flowy.stacks.definitions import DEFAULT_STACK, StackDefinition, get_stack, stack_label
from flowy.stacks.refs import portable_options, substitute

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.kernel.registry import Registration


@attrs.define
class CheckedComponent:
    kind: str
    type: str
    cls: Any
    options: dict[str, Any]
    distribution: str
    version: str
    raw_options: dict[str, Any]
    #: ``options`` as sent to workers: secrets keep their ``{env:NAME}`` references.
    portable_options: dict[str, Any] = attrs.field(factory=dict)
    #: The stack, file and component, for messages (``Stack 's' (project: ...), tracker 'x'``).
    where: str = ""
    #: ``distribution:type`` when another distribution registers the same name, so a
    #: worker resolving the spec picks the same implementation; else empty.
    qualified_type: str = ""

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "distribution": self.distribution,
            "version": self.version,
            "options": mask(self.raw_options),
        }

    def build(self) -> Any:
        """Construct the component; a plugin's error names it, its distribution and the fix.

        A component raising ``ValueError`` or ``TypeError`` (pydantic's
        ValidationError is a ValueError) rejected its options; a missing
        module is a framework its plugin needs; other exceptions are the
        plugin's, and say so. The message never repeats a secret option's value.
        OSError passes through: it is the environment's (a full disk, a
        permission), and the CLI's error boundary explains those.
        """
        try:
            return self.cls(**self.options)
        except (FlowyError, OSError):
            raise
        except Exception as exc:
            plugin = f"{self.distribution} {self.version}"
            detail = scrub(f"{type(exc).__name__}: {exc}", secret_values(self.options))
            where = self.where or f"The {self.kind} {self.type!r}"
            flag = f"--{self.kind.replace('_', '-')}-option"
            if isinstance(exc, ModuleNotFoundError) and exc.name:
                raise PluginLoadError(
                    f"{where} (from {plugin}) needs the module {exc.name!r}, which is not "
                    f"installed: {detail}. Install what {self.distribution} needs for it "
                    f"(`pip install {exc.name.split('.')[0]}`, or the extra its documentation "
                    "names) or switch to another stack."
                ) from exc
            if isinstance(exc, (ValueError, TypeError)):
                raise ConfigError(
                    f"{where} (from {plugin}) rejected its options: {detail}. Fix the option in "
                    f"the stack file or with `flowy stack update STACK {flag} KEY=VALUE` "
                    f"(`flowy stack describe` shows the options)."
                ) from exc
            raise PluginLoadError(
                f"{where} (from {plugin}) failed to start: {detail}. This is an error in "
                f"{self.distribution} or in the options it was given; check them with `flowy "
                f"stack describe`, and re-run with `flowy --debug` for the traceback to report "
                f"to {self.distribution}'s maintainers."
            ) from exc


def check_stack(
    defn: StackDefinition,
    plugins: FlowyPlugins,
    project: Path | None = None,
    kinds: Collection[str] | None = None,
) -> dict[str, CheckedComponent]:
    """Resolve every component's class and validate its options, constructing nothing.

    ``kinds`` limits the work to those components: a reader such as
    :class:`flowy.tracking.client.Client` needs only the stores, and importing the
    executor's module would cost a ``flowy runs list`` a third of its time.
    """
    from flowy.stacks.options_cache import validated
    from flowy.stacks.stackfile import options_of, validate_options

    project = project or project_root()
    registry = plugins.registry
    if defn.error:
        raise ConfigError(defn.error)
    missing = [k for k in REQUIRED_KINDS if k not in defn.components]
    if missing:
        raise ConfigError(
            f"{stack_label(defn)} has no {', '.join(missing)}; every stack needs "
            f"{', '.join(REQUIRED_KINDS)}."
        )
    for kind, names in defn.required_options.items():
        have = defn.components.get(kind, {})
        absent = [n for n in names if have.get(n) in (None, "")]
        if absent:
            raise ConfigError(
                f"Stack {defn.name!r} needs {kind} option(s) {', '.join(absent)}. Set them with "
                f"`flowy stack update {defn.name} --{kind.replace('_', '-')}-option "
                f"{absent[0]}=VALUE`."
            )
    checked: dict[str, CheckedComponent] = {}
    for kind, table in defn.components.items():
        if kinds is not None and kind not in kinds:
            continue
        if kind not in registry.kinds:
            raise ConfigError(
                f"{stack_label(defn)}: unknown component kind {kind!r}. Known "
                f"kinds: {', '.join(sorted(registry.kinds))}."
            )
        raw = options_of(table)
        reg = lookup_component(defn, kind, table, plugins)
        cls = reg.load()
        where = f"{stack_label(defn)}, {kind} {table['type']!r}"
        provider = f"{reg.distribution} {reg.version}"
        given = substitute(raw, project, where)
        options = validated(
            cls,
            provider,
            raw=raw,
            options=given,
            project=project,
            validate=functools.partial(validate_options, cls, given, where, kind, provider),
        )
        checked[kind] = CheckedComponent(
            kind,
            table["type"],
            cls,
            options,
            reg.distribution,
            reg.version,
            raw,
            portable_options(raw, options, project),
            where,
            reg.qualified_name if len(registry.candidates(kind, reg.name)) > 1 else "",
        )
    return checked


def _preferred_providers(
    defn: StackDefinition, kind: str, table: Mapping[str, Any], plugins: FlowyPlugins
) -> list[str]:
    """Distributions to pick from when several register the component's name.

    The stack's ``provided_by`` first; for a stack a plugin offers, that plugin's own
    distribution, then the well-known provider (flowy-core's ``local`` stack means
    flowy-executor-local's ``local`` executor even when another plugin reuses the name).
    """
    preferred = [str(table["provided_by"])] if table.get("provided_by") else []
    if defn.scope == "plugin":
        offer = plugins.registry.stacks.get(defn.name)
        if offer is not None:
            preferred.append(offer.distribution)
        known = KNOWN_PROVIDERS.get((kind, str(table["type"])))
        if known:
            preferred.append(known)
    return preferred


def lookup_component(
    defn: StackDefinition, kind: str, table: Mapping[str, Any], plugins: FlowyPlugins
) -> Registration:
    """The registration a component names, or an error saying which plugin to install or fix."""
    name = str(table["type"])
    if ":" not in name:
        for provider in _preferred_providers(defn, kind, table, plugins):
            for reg in plugins.registry.candidates(kind, name):
                if reg.distribution == provider:
                    return reg
    try:
        return plugins.registry.get(kind, name)
    except ComponentNotFoundError as exc:
        message = f"{stack_label(defn)}: {exc}"
        dist = table.get("provided_by")
        info = next((i for i in plugins.infos.values() if i.distribution == dist), None)
        if dist and info is not None and info.status != "loaded":
            message += f" It comes from {dist}, which is installed but {info.status}: {info.error}"
        elif dist and info is not None:
            message += (
                f" The stack was registered with the {kind.replace('_', ' ')} {name!r} from "
                f"{dist}, which is installed but no longer registers it: pin the version of "
                f"{dist} that does, or change the stack with `flowy stack update {defn.name} "
                f"--{kind.replace('_', '-')} TYPE`."
            )
        elif dist:
            message += (
                f" The stack was registered with the {kind.replace('_', ' ')} "
                f"{table['type']!r} from {dist}, which is not installed: `pip install {dist}`."
            )
        broken = [
            f"{i.distribution} ({i.error})"
            for i in plugins.infos.values()
            if i.status in ("failed", "incompatible") and i.distribution != dist
        ]
        if broken:
            message += f" Plugins that did not load (one may provide it): {'; '.join(broken)}."
        raise ComponentNotFoundError(message) from exc


@attrs.define
class ResolvedStack:
    """A stack turned into live components for one run."""

    name: str
    definition: StackDefinition
    checked: dict[str, CheckedComponent]
    components: dict[str, Any]

    @property
    def executor(self) -> Any:
        return self.components["executor"]

    @property
    def artifact_store(self) -> Any:
        return self.components["artifact_store"]

    @property
    def metadata_store(self) -> Any:
        return self.components["metadata_store"]

    def artifact_store_spec(self) -> ComponentSpec:
        """What a worker needs to open the artifact store (secrets as references)."""
        c = self.checked["artifact_store"]
        return ComponentSpec(
            "artifact_store", c.qualified_type or c.type, c.portable_options or c.options
        )

    def record(self) -> dict[str, Any]:
        """The fully resolved stack a run records (secrets masked)."""
        return {
            "name": self.name,
            "source": self.definition.source,
            "components": {k: c.describe() for k, c in self.checked.items()},
        }

    def close(self) -> None:
        for kind, comp in self.components.items():
            if kind != "artifact_store" and hasattr(comp, "close"):
                comp.close()


def active_stack_name(project: Path | None = None) -> str:
    """FLOWY_STACK, else the project's, else the user's active stack, else ``local``."""
    from flowy.kernel.config import load_settings

    return str(load_settings(project).get("active_stack") or DEFAULT_STACK)


def resolve_stack(
    name: str | None,
    plugins: FlowyPlugins,
    project: Path | None = None,
    *,
    executor_options: Mapping[str, Any] | None = None,
) -> ResolvedStack:
    """Check and construct the named (or active) stack's components.

    ``executor_options`` override the executor's options for this run only
    (``flowy run --executor-option max_workers=4``).
    """
    project = project or project_root()
    name = name or active_stack_name(project)
    defn = get_stack(name, plugins, project)
    if executor_options:
        components = dict(defn.components)
        components["executor"] = {**components.get("executor", {}), **executor_options}
        defn = attrs.evolve(defn, components=components)
    checked = check_stack(defn, plugins, project)
    built: dict[str, Any] = {}
    try:
        for kind, c in checked.items():
            built[kind] = c.build()
        if "metadata_store" in built and "artifact_store" in built:
            from flowy.artifacts.rebuild import (
                check_index,  # a lost index is refused, not recreated
            )

            check_index(built["metadata_store"], built["artifact_store"])
    except BaseException:
        for kind, comp in built.items():  # what was opened before the failure is closed
            close = getattr(comp, "close", None)
            if callable(close) and kind != "artifact_store":
                with contextlib.suppress(Exception):
                    close()
        raise
    return ResolvedStack(name, defn, checked, built)


def stack_settings(
    name: str | None, kinds: Collection[str], keys: Collection[str]
) -> dict[str, Any]:
    """The first value of each of ``keys`` among the options of the stack's ``kinds``.

    For a plugin's ``check`` command that takes its bucket, region and so on from a stack
    (the active one when ``name`` is None): options as validated and with ``{env:}``
    references expanded, or as written when the stack does not validate yet (a stack
    missing an option still names its bucket).
    """
    from flowy.kernel.plugins import create_plugin_manager

    plugins = create_plugin_manager()
    defn = get_stack(name or active_stack_name(), plugins)
    try:
        checked = check_stack(defn, plugins)
    except Exception:  # noqa: BLE001 - see the docstring: what is written still counts
        checked = {}
    found: dict[str, Any] = {}
    for kind in kinds:
        options = checked[kind].options if kind in checked else defn.components.get(kind, {})
        for key in keys:
            if options.get(key) and key not in found:
                found[key] = options[key]
    return found
