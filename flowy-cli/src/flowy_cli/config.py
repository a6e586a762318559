"""``flowy config show|set``: effective settings, where each came from, and validated edits."""

from __future__ import annotations

import os
from typing import Any

import click

from flowy_cli.common import json_option


def effective_settings() -> dict[str, dict[str, Any]]:
    """Each setting's value and source (default, user file, project file, environment).

    ``load_settings`` validates everything first, so a bad file is reported as
    a ConfigError naming it and the field.
    """
    from flowy.kernel.config import SETTINGS, config_path, load_settings, read_toml

    values = load_settings()
    sources = dict.fromkeys(values, "default")
    for scope in ("user", "project"):
        path = config_path(scope)
        for key in read_toml(path):
            sources[key] = f"{scope}: {path}"
    for key in SETTINGS:
        if f"FLOWY_{key.upper()}" in os.environ:
            sources[key] = f"environment: FLOWY_{key.upper()}"
    if "FLOWY_STACK" in os.environ:
        sources["active_stack"] = "environment: FLOWY_STACK"
    if values.get("active_stack") is None:  # what runs use: the built-in stack, not "null"
        from flowy.stacks import DEFAULT_STACK

        values = {**values, "active_stack": DEFAULT_STACK}
        sources["active_stack"] = "default (the built-in stack; change: `flowy stack switch`)"
    return {
        key: {
            "value": values.get(key),
            "source": sources.get(key, "default"),
            "description": SETTINGS.get(key, ("", ""))[1],
        }
        for key in values
    }


@click.group()
def config() -> None:
    """Show and change Flowy settings."""


@config.command("show")
@json_option
def show(as_json: bool) -> None:
    """Effective settings and where each value came from."""
    import json

    from flowy.kernel.config import config_path, project_root
    from rich.markup import escape

    from flowy_cli.output import console, print_json, print_table

    data = effective_settings()
    if as_json:
        print_json(
            {
                "project": str(project_root()),
                "files": {"user": str(config_path("user")), "project": str(config_path("project"))},
                "settings": data,
            }
        )
        return
    console().print(f"Project: {escape(str(project_root()))}")
    print_table(
        ("setting", "value", "source"),
        (
            (k, escape(json.dumps(v["value"])), f"[dim]{escape(v['source'])}[/]")
            for k, v in data.items()
        ),
        empty="No settings.",
    )


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option(
    "--user", is_flag=True, help="Write the user file (FLOWY_HOME) instead of the project's."
)
def set_(key: str, value: str, user: bool) -> None:
    """Set KEY to VALUE after validating both (e.g. `flowy config set progress false`)."""
    from flowy.kernel.config import set_setting
    from rich.markup import escape

    from flowy_cli.common import plugin_manager
    from flowy_cli.output import console

    if key == "active_stack":
        from flowy.stacks import check_stack, get_stack

        check_stack(get_stack(value, plugin_manager()), plugin_manager())
    path = set_setting(key, value, "user" if user else "project")
    console().print(f"Set {escape(key)} = {escape(value)} in {escape(str(path))}")
