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

The file is validated with pydantic (:mod:`flowy.stacks.stackfile`); ``provided_by``
in a component table records the distribution that provided it when the stack
was registered (a hint for when it is uninstalled), not an option.

Option values may reference ``{project}`` (the project folder), ``{home}``
(FLOWY_HOME) and ``{env:NAME}`` (an environment variable, so secrets never sit
in files), expanded by :mod:`flowy.stacks.refs`; what is shown or recorded goes
through :func:`flowy.kernel.redact.mask`. Only the file of the stack a command uses
is read (:func:`get_stack`); `stack list` reads them all. Where a name is
defined in several places the first wins: the project's ``.flowy/stacks/``,
then the user's ``FLOWY_HOME/stacks/``, then stacks offered by plugins.
Checking a definition's components and building them is :mod:`flowy.stacks.resolution`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.config import PROJECT_DIR, project_root, read_toml, user_home, write_toml_atomic
from flowy.kernel.errors import ComponentNotFoundError, ConfigError
from flowy.kernel.registry import KNOWN_PROVIDERS
from flowy.stacks.refs import expand_env as expand_env  # noqa: PLC0414 - re-exported for workers

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.kernel.registry import StackOffer

DEFAULT_STACK = "local"


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
    from flowy.kernel import names

    return names.check(names.STACK, name, error=ConfigError)


def stack_dirs(project: Path | None = None) -> list[tuple[str, Path]]:
    return [
        ("project", (project or project_root()) / PROJECT_DIR / "stacks"),
        ("user", user_home() / "stacks"),
    ]


def parse_stack_file(path: Path, name: str, scope: str) -> StackDefinition:
    """Read and validate one stack file with pydantic (errors name file, stack and field)."""
    from flowy.stacks.stackfile import parse_stack_data

    description, components = parse_stack_data(read_toml(path), str(path), name)
    return StackDefinition(name, components, f"{scope}: {path}", description, scope)


def _parse_or_report(path: Path, scope: str) -> StackDefinition:
    """A broken file becomes a definition carrying its error, so other stacks keep working."""
    try:
        return parse_stack_file(path, path.stem, scope)
    except ConfigError as exc:
        return StackDefinition(path.stem, {}, f"{scope}: {path}", "", scope, error=str(exc))


def stack_files(project: Path | None = None) -> dict[str, tuple[str, Path]]:
    """Each stack file's name -> (scope, path), precedence applied; no file is opened.

    Only the folders are listed, so a broken or hostile file (a FIFO, a 50 MB
    file, brackets nested a thousand deep) costs nothing until a command asks
    for that stack by name.
    """
    found: dict[str, tuple[str, Path]] = {}
    for scope, folder in stack_dirs(project):
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".toml"))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise ConfigError(f"The stacks folder {folder} cannot be read: {exc}.") from exc
        for file_name in names:
            found.setdefault(file_name[: -len(".toml")], (scope, folder / file_name))
    return found


def stack_label(defn: StackDefinition) -> str:
    """``Stack 'name' (where it is defined)`` for messages; no ``()`` for a stack not saved yet."""
    return f"Stack {defn.name!r}" + (f" ({defn.source})" if defn.source else "")


def _offered(offer: StackOffer) -> StackDefinition:
    return StackDefinition(
        offer.name,
        {k: dict(v) for k, v in offer.components.items()},
        f"plugin: {offer.distribution} {offer.version}",
        offer.description,
        "plugin",
        offer.required_options,
    )


def stack_names(plugins: FlowyPlugins, project: Path | None = None) -> list[str]:
    """Every stack's name (files and plugins), without reading any file."""
    return sorted({*stack_files(project), *plugins.registry.stacks})


def list_stacks(plugins: FlowyPlugins, project: Path | None = None) -> dict[str, StackDefinition]:
    """Every stack by name, precedence applied (project, user, plugins).

    Every file is read, so this is for commands that show them all (`stack
    list`); a broken file becomes a definition carrying its error.
    """
    found = {
        name: _parse_or_report(path, scope) for name, (scope, path) in stack_files(project).items()
    }
    for offer in plugins.registry.stacks.values():
        found.setdefault(offer.name, _offered(offer))
    return dict(sorted(found.items()))


def get_stack(name: str, plugins: FlowyPlugins, project: Path | None = None) -> StackDefinition:
    """The stack named ``name``: only its own file is read (or the plugin's offer used)."""
    files = stack_files(project)
    if name in files:
        scope, path = files[name]
        return parse_stack_file(path, name, scope)
    offer = plugins.registry.stacks.get(name)
    if offer is not None:
        return _offered(offer)
    stacks = stack_names(plugins, project)
    provider = KNOWN_PROVIDERS.get(("stack", name))
    import difflib

    close = difflib.get_close_matches(name, list(stacks), n=1)
    hint = (
        f"It is offered by {provider}: `pip install {provider}`."
        if provider
        else f"Did you mean {close[0]!r}? Or create it with `flowy stack register`."
        if close
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
    """Delete the file of stack ``name``: one listed in a stacks folder, never a path built
    from the name (``../x`` once deleted ``.flowy/x.toml``)."""
    found = stack_files(project).get(name)
    if found is not None:
        found[1].unlink()
        return found[1]
    raise ConfigError(
        f"No stack file named {name!r} in the project or user folder; stacks offered by "
        "plugins cannot be deleted (uninstall the plugin instead)."
    )
