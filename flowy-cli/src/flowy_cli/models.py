"""``flowy model``: the model registry from the command line (see docs/model-registry.md).

Every command goes through ``Client.models`` (:mod:`flowy.tracking.models`), so the
CLI, notebooks and the web UI apply the same rules: names validated, versions
numbered by the store, stage changes recorded with time and user.
"""

from __future__ import annotations

from typing import Any

import click

from flowy_cli.common import json_option, stack_option, store_client

_stack_option = stack_option("Use this stack's store instead of the active one.")


def _emit(data: Any, as_json: bool, title: str) -> bool:
    """Print ``data`` as JSON when asked; True when done."""
    if as_json:
        from flowy_cli.output import print_json

        print_json(data)
    return as_json


def _changes(changes: list[Any]) -> None:
    from flowy_cli.output import console
    from flowy_cli.terminal_text import escape_markup as escape

    for c in changes:
        console().print(
            f"{escape(c.name)} v{c.version}: {escape(from_stage(c.from_stage))} -> "
            f"[bold]{escape(c.to_stage)}[/] [dim]({escape(c.action)} by {escape(c.user)})[/]"
        )


def from_stage(stage: str | None) -> str:
    """A stage change's old stage; a new version had none ("-", never "None")."""
    return "-" if stage is None else stage


#: Subcommands of ``flowy model`` that another distribution provides: name -> (distribution,
#: help). They are listed even when it is not installed, and then say what to install.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "serve": ("flowy-serve", "Serve a model version over HTTP."),
    "predict": ("flowy-serve", "Predict a file in batches, recorded as a run."),
    "package": ("flowy-serve", "Write a container build context that serves a model version."),
}


class ModelGroup(click.Group):
    """``flowy model`` with the subcommands plugins register as ``"model NAME"``.

    A plugin's ``flowy_register_commands`` hook registers ``"model serve"``; the
    command is listed from the cached plugin command list and imported only when
    invoked (as top-level plugin commands are, see flowy_cli/main.py).
    """

    def _plugin_subcommands(self) -> dict[str, tuple[str, str]]:
        from flowy_cli.discovery import plugin_commands

        return {
            name.partition(" ")[2]: cmd
            for name, cmd in plugin_commands().items()
            if name.startswith("model ")
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_subcommands(), *EXTENSIONS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        if cmd_name in self._plugin_subcommands():
            from flowy_cli.discovery import load_plugin_command

            return load_plugin_command(f"model {cmd_name}")
        if cmd_name in EXTENSIONS:
            return _missing_extension(cmd_name, *EXTENSIONS[cmd_name])
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        plugins = self._plugin_subcommands()
        rows = [(n, c.get_short_help_str(80)) for n, c in sorted(self.commands.items())]
        rows += [(n, help_) for n, (_, help_) in sorted(plugins.items()) if n not in self.commands]
        rows += [
            (n, f"{help_} (needs {dist}: pip install {dist})")
            for n, (dist, help_) in sorted(EXTENSIONS.items())
            if n not in self.commands and n not in plugins
        ]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


def _missing_extension(name: str, dist: str, help_: str) -> click.Command:
    """A stand-in that says which distribution provides ``flowy model NAME``."""

    def callback(**_: Any) -> None:
        raise click.ClickException(
            f"`flowy model {name}` is provided by {dist}, which is not installed (or is "
            f"disabled): pip install {dist}. `flowy plugins` lists what is installed."
        )

    return click.Command(
        name,
        callback=callback,
        help=f"{help_} Needs {dist}: pip install {dist}.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=ModelGroup)
def model() -> None:
    """Register model versions, move them between stages, compare and roll back.

    Serving (`serve`, `predict`, `package`) comes with flowy-serve (docs/serving.md).
    """


@model.command("list")
@_stack_option
@json_option
def list_models(stack: str | None, as_json: bool) -> None:
    """Registered models with their newest version and stage holders."""
    from flowy.kernel.records import to_dict

    from flowy_cli.output import fmt_time, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        models = client.models.list()
    if _emit([to_dict(m) for m in models], as_json, "models"):
        return
    print_table(
        ("model", "latest", "stages", "created"),
        (
            (
                escape(m.name),
                f"v{m.latest_version}",
                escape(", ".join(f"{s}=v{v}" for s, v in sorted(m.stages.items())) or "-"),
                fmt_time(m.created_at),
            )
            for m in models
        ),
        empty="No models registered. Register one with `flowy model register NAME ARTIFACT_ID`.",
    )


@model.command("register")
@click.argument("name")
@click.argument("artifact_id")
@click.option("--description", "-d", default="", help="A note kept with the version.")
@_stack_option
@json_option
def register(
    name: str, artifact_id: str, description: str, stack: str | None, as_json: bool
) -> None:
    """Register ARTIFACT_ID (id or unique prefix) as the next version of NAME."""
    from flowy.kernel.records import to_dict

    from flowy_cli.output import console
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        version = client.models.register(name, artifact_id, description=description)
    if _emit(to_dict(version), as_json, "version"):
        return
    console().print(
        f"Registered [bold]{escape(name)}[/] version {version.version} "
        f"(artifact {escape(version.artifact_id[:12])}, run {escape(version.run_id[:12])})."
    )


@model.command("versions")
@click.argument("name")
@_stack_option
@json_option
def versions(name: str, stack: str | None, as_json: bool) -> None:
    """The versions of NAME, oldest first."""
    from flowy.kernel.records import to_dict

    from flowy_cli.output import fmt_time, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        found = client.models.versions(name)
    if _emit([to_dict(v) for v in found], as_json, "versions"):
        return
    print_table(
        ("version", "stage", "artifact", "run", "created", "by"),
        (
            (
                f"v{v.version}",
                escape(v.stage),
                escape(v.artifact_id[:12]),
                escape(v.run_id[:12]),
                fmt_time(v.created_at),
                escape(v.created_by),
            )
            for v in found
        ),
        empty="No versions.",
    )


@model.command("promote")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option(
    "--to",
    "stage",
    required=True,
    metavar="STAGE",
    help="staging, production, archived, none, or a stage of your own.",
)
@_stack_option
@json_option
def promote(name: str, version: int, stage: str, stack: str | None, as_json: bool) -> None:
    """Move VERSION of NAME to a stage (the previous holder is archived)."""
    from flowy.kernel.records import to_dict

    with store_client(stack) as client:
        changes = client.models.promote(name, version, to=stage)
    if _emit([to_dict(c) for c in changes], as_json, "changes"):
        return
    if not changes:
        from flowy_cli.terminal_text import escape_text

        click.echo(
            f"{escape_text(name)} v{version} is already in {escape_text(stage)}; nothing changed."
        )
    _changes(changes)


@model.command("rollback")
@click.argument("name")
@_stack_option
@json_option
def rollback(name: str, stack: str | None, as_json: bool) -> None:
    """Return production to the version that held it before the current one."""
    from flowy.kernel.records import to_dict

    with store_client(stack) as client:
        changes = client.models.rollback(name)
    if _emit([to_dict(c) for c in changes], as_json, "changes"):
        return
    _changes(changes)


@model.command("compare")
@click.argument("name")
@click.argument("v1", type=click.IntRange(min=1))
@click.argument("v2", type=click.IntRange(min=1))
@_stack_option
@json_option
def compare(name: str, v1: int, v2: int, stack: str | None, as_json: bool) -> None:
    """Metrics (with deltas V2 - V1), parameters and training data of two versions."""
    from flowy_cli.output import console, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        data = client.models.compare(name, v1, v2)
    if _emit(data, as_json, "compare"):
        return

    def fmt(value: Any) -> str:
        return (
            "-"
            if value is None
            else escape(f"{value:.6g}" if isinstance(value, float) else str(value))
        )

    console().print(
        f"[bold]{escape(name)}[/] v{v1} (run {escape(data['a']['run_id'][:12])}) vs "
        f"v{v2} (run {escape(data['b']['run_id'][:12])})"
    )
    print_table(
        ("metric", f"v{v1}", f"v{v2}", "delta"),
        (
            (escape(k), fmt(m["a"]), fmt(m["b"]), fmt(m["delta"]))
            for k, m in data["metrics"].items()
        ),
        empty="No metrics recorded.",
    )
    print_table(
        ("parameter", f"v{v1}", f"v{v2}", ""),
        (
            (escape(k), fmt(p["a"]), fmt(p["b"]), "changed" if k in data["params_changed"] else "")
            for k, p in data["params"].items()
        ),
        empty="No parameters recorded.",
    )
    same = data["training_data"]["same"]
    console().print("Training data: " + ("the same artifacts" if same else "[yellow]different[/]"))


@model.command("show")
@click.argument("name")
@click.option("--version", "-v", "version", type=click.IntRange(min=1), help="Default: the newest.")
@_stack_option
@json_option
def show(name: str, version: int | None, stack: str | None, as_json: bool) -> None:
    """A version with its run, metrics, training data, and the model's stage history."""
    from flowy.kernel.records import to_dict

    from flowy_cli.output import console, fmt_time, print_mapping, print_table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        data = client.models.details(name, version)
        data["history"] = [to_dict(c) for c in client.models.history(name)]
    if _emit(data, as_json, "model"):
        return
    shown = {k: v for k, v in data.items() if k not in ("history", "ancestors", "name")}
    shown["created_at"] = fmt_time(data["created_at"])
    print_mapping(f"Model {name} v{data['version']}", shown)
    console().print("[bold]History[/]")
    print_table(
        ("when", "version", "action", "from", "to", "user"),
        (
            (
                fmt_time(c["at"]),
                f"v{c['version']}",
                escape(c["action"]),
                escape(from_stage(c["from_stage"])),
                escape(c["to_stage"]),
                escape(c["user"]),
            )
            for c in data["history"]
        ),
        empty="No history.",
    )
