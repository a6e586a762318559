"""``flowy stack ...``: stacks are named bundles of component choices (see flowy.stacks).

Every command that writes a stack, or makes one active, first checks it with
:func:`flowy.stacks.check_stack` (each component resolves to an installed
plugin and its options validate), so a broken stack is refused before any
file changes. The active stack is written to the project's (or, with
``--user``, the user's) config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowy_cli.common import json_option, plugin_manager
from flowy_cli.stack_flags import apply_component_flags, component_options

if TYPE_CHECKING:
    from flowy.stacks import StackDefinition


@click.group()
def stack() -> None:
    """Register, inspect, switch and delete stacks."""


def _scope(user: bool) -> str:
    return "user" if user else "project"


# -- reading ----------------------------------------------------------------


@stack.command("list")
@json_option
def list_stacks(as_json: bool) -> None:
    """Every stack, where it comes from, and which one is active."""
    from flowy.stacks import active_stack_name, list_stacks
    from rich.markup import escape

    from flowy_cli.output import print_json, print_table

    plugins = plugin_manager()
    stacks = list_stacks(plugins)
    active = active_stack_name()
    for d in stacks.values():
        d.error = d.error or _unresolved(d, plugins)
    if as_json:
        print_json(
            [
                {
                    "name": d.name,
                    "active": d.name == active,
                    "scope": d.scope,
                    "source": d.source,
                    "description": d.description,
                    "components": {k: v.get("type") for k, v in d.components.items()},
                    "error": d.error,
                }
                for d in stacks.values()
            ]
        )
        return
    print_table(
        ("", "name", "components", "source", "description"),
        (
            (
                "[green]*[/]" if d.name == active else "",
                f"[bold]{escape(d.name)}[/]" if d.name == active else escape(d.name),
                escape(", ".join(f"{k}={v.get('type')}" for k, v in d.components.items()))
                or "[red]invalid[/]",
                escape(d.source),
                f"[red]{escape(d.error)}[/]" if d.error else escape(d.description),
            )
            for d in stacks.values()
        ),
        empty="No stacks.",
    )


def _unresolved(defn: Any, plugins: Any) -> str | None:
    """Why a stack cannot be used (a component no installed plugin provides), or None.

    Only registrations are looked up (nothing is imported), so listing stays cheap.
    """
    from flowy.kernel.errors import FlowyError
    from flowy.stacks import lookup_component

    problems = []
    for kind, spec in defn.components.items():
        try:
            lookup_component(defn, kind, spec, plugins)
        except FlowyError as exc:
            problems.append(str(exc))
    return " ".join(problems) or None


def _live_facts(defn: Any, plugins: Any) -> dict[str, dict[str, Any]]:
    """What each started component's ``describe()`` reports (resolved paths, buckets, urls).

    Starting a component can create what it manages (a local store's folder, a
    SQLite file), so this runs only when asked for with ``--live``.
    """
    from flowy.kernel.redact import mask
    from flowy.stacks import check_stack

    facts: dict[str, dict[str, Any]] = {}
    for kind, component in check_stack(defn, plugins).items():
        if not callable(getattr(component.cls, "describe", None)):
            continue
        built = component.build()
        try:
            facts[kind] = mask(dict(built.describe()))
        finally:
            close = getattr(built, "close", None)
            if callable(close):
                close()
    return facts


@stack.command("describe")
@click.argument("name", required=False)
@click.option(
    "--live",
    is_flag=True,
    help="Also start each component and show what its describe() reports "
    "(this creates a local store's folder or database if missing).",
)
@json_option
def describe(name: str | None, live: bool, as_json: bool) -> None:
    """Each component of a stack (default: the active one): implementation, provider, options."""
    from flowy.kernel.errors import FlowyError
    from flowy.kernel.redact import mask
    from flowy.stacks import active_stack_name, get_stack, lookup_component, options_of
    from rich.markup import escape

    from flowy_cli.output import console, print_json, table

    plugins = plugin_manager()
    active = active_stack_name()
    defn = get_stack(name or active, plugins)
    components: dict[str, dict[str, Any]] = {}
    for kind, spec in defn.components.items():
        item: dict[str, Any] = {
            "type": spec.get("type"),
            "options": mask(options_of(spec)),
        }
        try:
            reg = lookup_component(defn, kind, spec, plugins)
            item.update(distribution=reg.distribution, version=reg.version, target=reg.target)
        except FlowyError as exc:
            item["error"] = str(exc)
        components[kind] = item
    if live:
        for kind, facts in _live_facts(defn, plugins).items():
            components[kind]["describe"] = facts
    data = {
        "name": defn.name,
        "active": defn.name == active,
        "scope": defn.scope,
        "source": defn.source,
        "description": defn.description,
        "components": components,
    }
    if as_json:
        print_json(data)
        return
    out = console()
    flag = " [green](active)[/]" if data["active"] else ""
    out.print(f"[bold]Stack {escape(defn.name)}[/]{flag}  [dim]{escape(defn.source)}[/]")
    if defn.description:
        out.print(escape(defn.description))
    t = table("component", "type", "provided by", "options")
    for kind, item in components.items():
        provider = (
            f"{item['distribution']} {item['version']}"
            if "distribution" in item
            else f"[red]{escape(item['error'])}[/]"
        )
        options = ", ".join(f"{k}={v}" for k, v in item["options"].items())
        if item.get("describe"):
            options += "\n" + ", ".join(f"{k}={v}" for k, v in item["describe"].items())
        t.add_row(kind, escape(str(item["type"])), provider, escape(options))
    out.print(t)


@stack.command("export")
@click.argument("name")
def export(name: str) -> None:
    """Print a stack as TOML (pipe it into a file to share it; import with `stack import`).

    Secrets written literally (a password in a URL, a ``token`` option) are
    printed as ``****``, with a note on stderr: an exported stack is meant to
    be shared, so it carries ``{env:NAME}`` references, never credentials.
    """
    import sys

    import tomli_w
    from flowy.kernel.redact import mask
    from flowy.stacks import get_stack

    data = get_stack(name, plugin_manager()).to_toml_dict()
    shown = mask(data)
    sys.stdout.write(tomli_w.dumps(shown))
    if shown != data:
        from flowy_cli.output import err_console

        err_console().print(
            "Note: secrets written literally in the stack are exported as ****. Before "
            "importing, replace each with an {env:NAME} reference (e.g. "
            'password = "{env:DB_PASSWORD}") so that no credential sits in a file.',
            markup=False,
        )


# -- writing ----------------------------------------------------------------


def _check_and_save(defn: StackDefinition, scope: str) -> Path:
    """Check every component, record which distribution provides it, then write the file.

    ``provided_by`` lets a stack whose plugin was later uninstalled name what to install.
    """
    from flowy.stacks import check_stack, save_stack, validate_name

    validate_name(defn.name)
    checked = check_stack(defn, plugin_manager())
    for kind, component in checked.items():
        defn.components[kind]["provided_by"] = component.distribution
    return save_stack(defn, scope)


def _echo_saved(verb: str, name: str, path: Path) -> None:
    from rich.markup import escape

    from flowy_cli.output import console

    console().print(f"{verb} stack [bold]{escape(name)}[/] in {escape(str(path))}")


@stack.command("register")
@click.argument("name")
@component_options
def register(name: str, user: bool, description: str | None, **flags: Any) -> None:
    """Create a stack; every component is checked before anything is written."""
    from flowy.kernel.errors import ConfigError
    from flowy.stacks import StackDefinition, stack_dirs, validate_name

    # Only the path is checked: a broken file of that name is "existing" without being read.
    existing = dict(stack_dirs())[_scope(user)] / f"{validate_name(name)}.toml"
    if existing.exists() or existing.is_symlink():
        raise ConfigError(
            f"A stack named {name!r} already exists ({_scope(user)}: {existing}). Change it "
            f"with `flowy stack update {name} ...` or pick another name."
        )
    components: dict[str, dict[str, Any]] = {}
    apply_component_flags(components, flags)
    defn = StackDefinition(name, components, "", description or "", _scope(user))
    _echo_saved("Registered", name, _check_and_save(defn, _scope(user)))


@stack.command("update")
@click.argument("name")
@component_options
def update(name: str, user: bool, description: str | None, **flags: Any) -> None:
    """Change components or options of a stack (merged into what it has)."""
    import attrs
    from flowy.stacks import get_stack

    defn = get_stack(name, plugin_manager())
    components = {k: dict(v) for k, v in defn.components.items()}
    apply_component_flags(components, flags)
    scope = _scope(True) if user else (defn.scope if defn.scope != "plugin" else "project")
    new = attrs.evolve(
        defn, components=components, description=description or defn.description, scope=scope
    )
    _echo_saved("Updated", name, _check_and_save(new, scope))


@stack.command("copy")
@click.argument("source")
@click.argument("target")
@click.option("--user", is_flag=True, help="Write the copy to the user folder.")
def copy(source: str, target: str, user: bool) -> None:
    """Copy a stack under a new name (to change it without touching the original)."""
    import attrs
    from flowy.kernel.errors import ConfigError
    from flowy.stacks import get_stack, stack_names

    if target in stack_names(plugin_manager()):
        raise ConfigError(f"A stack named {target!r} already exists; pick another name.")
    defn = get_stack(source, plugin_manager())
    new = attrs.evolve(defn, name=target, scope=_scope(user), source="")
    _echo_saved("Copied", target, _check_and_save(new, _scope(user)))


@stack.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The stack's name (default: the file's stem).")
@click.option("--user", is_flag=True, help="Import into the user folder.")
def import_(file: Path, name: str | None, user: bool) -> None:
    """Add a stack from a TOML file (as written by `flowy stack export`)."""
    from flowy.stacks import parse_stack_file

    defn = parse_stack_file(file, name or file.stem, _scope(user))
    _echo_saved("Imported", defn.name, _check_and_save(defn, _scope(user)))


@stack.command("switch")
@click.argument("name")
@click.option("--user", is_flag=True, help="Set the user-level default instead of the project's.")
def switch(name: str, user: bool) -> None:
    """Make NAME the active stack, after checking that all its components resolve."""
    from flowy.kernel.config import set_setting
    from flowy.stacks import check_stack, get_stack
    from rich.markup import escape

    from flowy_cli.output import console

    plugins = plugin_manager()
    check_stack(get_stack(name, plugins), plugins)
    path = set_setting("active_stack", name, _scope(user))
    console().print(f"Active stack is now [bold]{escape(name)}[/] ({escape(str(path))})")


@stack.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete a stack file (never the active stack; stored runs are not touched)."""
    from flowy.kernel.errors import ConfigError
    from flowy.stacks import active_stack_name, delete_stack_file
    from rich.markup import escape

    from flowy_cli.output import console

    if name == active_stack_name():
        raise ConfigError(
            f"Stack {name!r} is the active stack; switch to another first "
            "(`flowy stack switch local`)."
        )
    if not yes:
        click.confirm(f"Delete stack {name!r}?", abort=True)
    path = delete_stack_file(name)
    console().print(f"Deleted stack [bold]{escape(name)}[/] ({escape(str(path))})")
