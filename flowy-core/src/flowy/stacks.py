"""Stacks: named bundles of component choices, from files and plugins.

A stack file is TOML: each top-level table is a component kind, its ``type``
names the implementation and its other keys are that component's options::

    description = "a second local store"
    [executor]
    type = "local"
    [metadata_store]
    type = "sqlite"
    url = "sqlite:///{project}/.flowy/other.db"
    [artifact_store]
    type = "local"
    path = "{project}/.flowy/other-artifacts"

The file is validated with pydantic (:mod:`flowy.stackfile`); ``provided_by``
in a component table records the distribution that provided it when the stack
was registered (a hint for when it is uninstalled), not an option.

Option values may reference ``{project}`` (the project folder), ``{home}``
(FLOWY_HOME) and ``{env:NAME}`` (an environment variable, so secrets never sit
in files; shown masked). Where a name is defined in several places the first
wins: the project's ``.flowy/stacks/``, then the user's ``FLOWY_HOME/stacks/``,
then stacks offered by plugins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.config import PROJECT_DIR, project_root, read_toml, user_home, write_toml_atomic
from flowy.errors import ComponentNotFoundError, ConfigError
from flowy.records import ComponentSpec
from flowy.registry import KNOWN_PROVIDERS

if TYPE_CHECKING:
    from flowy.plugins import FlowyPlugins
    from flowy.registry import Registration

REQUIRED_KINDS = ("executor", "artifact_store", "metadata_store")
DEFAULT_STACK = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_REF = re.compile(r"\{(project|home|env:[A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET = re.compile(r"(secret|password|passwd|token|credential|private|access_key)", re.I)
_ONLY_REF = re.compile(r"(\{env:[A-Za-z_][A-Za-z0-9_]*\})+")
#: ``scheme://user:password@``, unless the password is an env reference.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)(?!\{env:[A-Za-z_][A-Za-z0-9_]*\}@)[^@/\s]+@")
_ENV_REF = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
#: ``scheme://user:{env:NAME}@``: a URL whose password comes from the environment.
_URL_ENV_PASSWORD = re.compile(r"://[^:/@\s]+:\{env:[A-Za-z_][A-Za-z0-9_]*\}@")


@attrs.define
class StackDefinition:
    """A stack as written: kinds to ``{"type": ..., **options}``, and where it came from.

    ``error`` is set (and ``components`` empty) for a file that does not
    validate: listing shows it, using it raises it, other stacks keep working.
    """

    name: str
    components: dict[str, dict[str, Any]]
    source: str
    description: str = ""
    scope: str = "plugin"  # project | user | plugin
    required_options: dict[str, list[str]] = attrs.field(factory=dict)
    error: str | None = None

    def to_toml_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.description:
            data["description"] = self.description
        data.update({k: dict(v) for k, v in self.components.items()})
        return data


def validate_name(name: str) -> str:
    from flowy import names

    return names.check(names.STACK, name, error=ConfigError)


def stack_dirs(project: Path | None = None) -> list[tuple[str, Path]]:
    return [
        ("project", (project or project_root()) / PROJECT_DIR / "stacks"),
        ("user", user_home() / "stacks"),
    ]


def parse_stack_file(path: Path, name: str, scope: str) -> StackDefinition:
    """Read and validate one stack file with pydantic (errors name file, stack and field)."""
    from flowy.stackfile import parse_stack_data

    description, components = parse_stack_data(read_toml(path), str(path), name)
    return StackDefinition(name, components, f"{scope}: {path}", description, scope)


def _parse_or_report(path: Path, scope: str) -> StackDefinition:
    """A broken file becomes a definition carrying its error, so other stacks keep working."""
    try:
        return parse_stack_file(path, path.stem, scope)
    except ConfigError as exc:
        return StackDefinition(path.stem, {}, f"{scope}: {path}", "", scope, error=str(exc))


def list_stacks(plugins: FlowyPlugins, project: Path | None = None) -> dict[str, StackDefinition]:
    """Every stack by name, precedence applied (project, user, plugins)."""
    found: dict[str, StackDefinition] = {}
    for scope, folder in stack_dirs(project):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                if path.stem not in found:
                    found[path.stem] = _parse_or_report(path, scope)
    for offer in plugins.registry.stacks.values():
        found.setdefault(
            offer.name,
            StackDefinition(
                offer.name,
                {k: dict(v) for k, v in offer.components.items()},
                f"plugin: {offer.distribution} {offer.version}",
                offer.description,
                "plugin",
                offer.required_options,
            ),
        )
    return dict(sorted(found.items()))


def get_stack(name: str, plugins: FlowyPlugins, project: Path | None = None) -> StackDefinition:
    stacks = list_stacks(plugins, project)
    if name in stacks:
        if stacks[name].error:
            raise ConfigError(stacks[name].error)
        return stacks[name]
    provider = KNOWN_PROVIDERS.get(("stack", name))
    hint = (
        f"It is offered by {provider}: `pip install {provider}`."
        if provider
        else "Create it with `flowy stack register`."
    )
    raise ComponentNotFoundError(
        f"No stack named {name!r}. Stacks: {', '.join(stacks) or 'none'}. {hint}"
    )


def save_stack(defn: StackDefinition, scope: str = "project", project: Path | None = None) -> Path:
    validate_name(defn.name)
    folder = dict(stack_dirs(project))[scope]
    path = folder / f"{defn.name}.toml"
    write_toml_atomic(path, defn.to_toml_dict())
    return path


def delete_stack_file(name: str, project: Path | None = None) -> Path:
    for _, folder in stack_dirs(project):
        path = folder / f"{name}.toml"
        if path.exists():
            path.unlink()
            return path
    raise ConfigError(
        f"No stack file named {name!r} in the project or user folder; stacks offered by "
        "plugins cannot be deleted (uninstall the plugin instead)."
    )


def substitute(value: Any, project: Path, where: str) -> Any:
    """Expand {project}, {home} and {env:NAME} in option values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref == "project":
                return str(project)
            if ref == "home":
                return str(user_home())
            var = ref[4:]
            if var not in os.environ:
                raise ConfigError(
                    f"{where} references the environment variable {var}, which is not set. "
                    f"Set it (export {var}=...) or change the stack."
                )
            return os.environ[var]

        return _REF.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, project, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, project, where) for k, v in value.items()}
    return value


def portable_options(
    raw: Mapping[str, Any], resolved: Mapping[str, Any], project: Path
) -> dict[str, Any]:
    """``resolved``, except that secrets read from the environment stay references.

    Options travel to workers inside every task: to pool processes, to Dask
    workers over the network, into the step manifests SageMaker jobs read from
    S3. A value under a secret-looking key (password, token, ...) that came
    from ``{env:NAME}``, or a URL whose password did, is sent as written, and
    each worker resolves it from its own environment (:func:`expand_env`), so
    the secret itself is never copied anywhere.
    """
    out = dict(resolved)
    for key, value in raw.items():
        if key not in out:
            continue
        if isinstance(value, Mapping) and isinstance(out[key], Mapping):
            out[key] = portable_options(value, out[key], project)
        elif (
            isinstance(value, str)
            and _ENV_REF.search(value)
            and (_SECRET.search(key) or _URL_ENV_PASSWORD.search(value))
        ):

            def keep_env(match: re.Match[str]) -> str:
                ref = match.group(1)
                if ref == "project":
                    return str(project)
                return str(user_home()) if ref == "home" else match.group(0)

            out[key] = _REF.sub(keep_env, value)
    return out


def expand_env(value: Any, where: str) -> Any:
    """Resolve the ``{env:NAME}`` references left in options a worker received."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                raise ConfigError(
                    f"{where} reads the environment variable {var}, which is not set on this "
                    "worker. Secrets travel to workers as references, never as values: set "
                    f"{var} in the worker's environment (or give the worker its own "
                    "credentials, such as a SageMaker job's IAM role, and leave the option out)."
                )
            return os.environ[var]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, list):
        return [expand_env(v, where) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where} option {k!r}") for k, v in value.items()}
    return value


def mask(key: str, value: Any) -> Any:
    """What `describe` and run records show: env references as written, secrets hidden.

    A value is hidden when its key looks secret (password, token, ...) unless it
    is only an ``{env:NAME}`` reference; a password inside a URL
    (``scheme://user:pw@host``) is hidden wherever it appears.
    """
    if isinstance(value, dict):
        return {k: mask(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(key, v) for v in value]
    if not isinstance(value, str):
        return "****" if _SECRET.search(key) and value is not None else value
    if _SECRET.search(key) and value and not _ONLY_REF.fullmatch(value):
        return "****"
    return _URL_PASSWORD.sub(r"\1****@", value)


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

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "distribution": self.distribution,
            "version": self.version,
            "options": mask("", self.raw_options),
        }


def check_stack(
    defn: StackDefinition,
    plugins: FlowyPlugins,
    project: Path | None = None,
    kinds: Collection[str] | None = None,
) -> dict[str, CheckedComponent]:
    """Resolve every component's class and validate its options, constructing nothing.

    ``kinds`` limits the work to those components: a reader such as
    :class:`flowy.client.Client` needs only the stores, and importing the
    executor's module would cost a ``flowy runs list`` a third of its time.
    """
    from flowy.stackfile import options_of, validate_options

    project = project or project_root()
    registry = plugins.registry
    if defn.error:
        raise ConfigError(defn.error)
    missing = [k for k in REQUIRED_KINDS if k not in defn.components]
    if missing:
        raise ConfigError(
            f"Stack {defn.name!r} ({defn.source}) has no {', '.join(missing)}; every stack needs "
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
                f"Stack {defn.name!r} ({defn.source}): unknown component kind {kind!r}. Known "
                f"kinds: {', '.join(sorted(registry.kinds))}."
            )
        raw = options_of(table)
        reg = lookup_component(defn, kind, table, plugins)
        cls = reg.load()
        where = f"Stack {defn.name!r} ({defn.source}), {kind} {table['type']!r}"
        options = validate_options(cls, substitute(raw, project, where), where, kind)
        checked[kind] = CheckedComponent(
            kind,
            table["type"],
            cls,
            options,
            reg.distribution,
            reg.version,
            raw,
            portable_options(raw, options, project),
        )
    return checked


def lookup_component(
    defn: StackDefinition, kind: str, table: Mapping[str, Any], plugins: FlowyPlugins
) -> Registration:
    """The registration a component names, or an error saying which plugin to install or fix."""
    try:
        return plugins.registry.get(kind, str(table["type"]))
    except ComponentNotFoundError as exc:
        message = f"Stack {defn.name!r} ({defn.source}): {exc}"
        dist = table.get("provided_by")
        info = next((i for i in plugins.infos.values() if i.distribution == dist), None)
        if dist and info is not None and info.status != "loaded":
            message += f" It comes from {dist}, which is installed but {info.status}: {info.error}"
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
        return ComponentSpec("artifact_store", c.type, c.portable_options or c.options)

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
    from flowy.config import load_settings

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
    components = {kind: c.cls(**c.options) for kind, c in checked.items()}
    if "metadata_store" in components and "artifact_store" in components:
        from flowy.rebuild import check_index  # a lost index is refused, not recreated

        try:
            check_index(components["metadata_store"], components["artifact_store"])
        except BaseException:
            components["metadata_store"].close()
            raise
    return ResolvedStack(name, defn, checked, components)
