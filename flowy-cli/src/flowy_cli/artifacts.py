"""``flowy artifacts list|show``: stored outputs, their metadata, and their (verified) values.

``show`` loads the artifact through the materializer that wrote it and checks
its checksum, so it is also the quickest way to find out whether a stored
file was changed or truncated since the run.
"""

from __future__ import annotations

from typing import Any

import click

from flowy_cli.common import json_option, plugin_manager

_stack_option = click.option(
    "--stack", "-s", metavar="NAME", help="Read this stack's store instead of the active one."
)


@click.group()
def artifacts() -> None:
    """List stored artifacts and show one with its value."""


@artifacts.command("list")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only artifacts of this run.")
@click.option("--name", metavar="OUTPUT", help="Only artifacts of this output name.")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(min=1))
@_stack_option
@json_option
def list_artifacts(
    run_id: str | None, name: str | None, limit: int, stack: str | None, as_json: bool
) -> None:
    """Artifacts, newest first."""
    from flowy.client import Client
    from flowy.records import to_dict
    from rich.markup import escape

    from flowy_cli.output import print_json, print_table

    with Client(stack=stack, plugins=plugin_manager()) as client:
        refs = client.artifacts(run_id=run_id, name=name, limit=limit)
    if as_json:
        print_json([to_dict(r) for r in refs])
        return
    print_table(
        ("artifact", "name", "type", "materializer", "size", "uri"),
        (
            (
                r.artifact_id[:12],
                escape(r.name),
                escape(r.type_name),
                escape(r.materializer),
                f"{r.size} B",
                escape(r.uri),
            )
            for r in refs
        ),
        empty="No artifacts.",
    )


@artifacts.command("show")
@click.argument("artifact_id")
@click.option("--no-value", is_flag=True, help="Show the metadata only; do not load the value.")
@_stack_option
@json_option
def show(artifact_id: str, no_value: bool, stack: str | None, as_json: bool) -> None:
    """An artifact's record and its value, loaded and checksum-verified."""
    from flowy.client import Client
    from flowy.records import to_dict
    from rich.markup import escape

    from flowy_cli.output import console, print_json, print_mapping

    with Client(stack=stack, plugins=plugin_manager()) as client:
        ref = client.artifact(artifact_id)
        value: Any = None if no_value else client.load(ref)
    data = to_dict(ref)
    if as_json:
        if not no_value:
            data["value"] = value if _jsonable(value) else repr(value)
        print_json(data)
        return
    print_mapping(
        f"Artifact {ref.artifact_id}", {k: v for k, v in data.items() if k != "artifact_id"}
    )
    if not no_value:
        text = repr(value)
        console().print("[bold]Value[/] [dim](checksum verified)[/]")
        console().print("  " + escape(text if len(text) <= 2000 else text[:1999] + "…"))


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
