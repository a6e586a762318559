"""``flowy artifacts list|show|lineage``: stored outputs, where they came from, and their values.

``show`` loads the artifact through the materializer that wrote it and checks
its checksum, so it is also the quickest way to find out whether a stored
file was changed or truncated since the run. ``lineage`` walks the store's
lineage edges (see docs/assets-and-lineage.md); the rendering lives in
:mod:`flowy_cli.lineage_view`.
"""

from __future__ import annotations

from typing import Any

import click

from flowy_cli.common import json_option, stack_option, store_client

_stack_option = stack_option()


@click.group()
def artifacts() -> None:
    """List, search and show stored artifacts, and trace their lineage."""


def _parse_time(value: str | None) -> float | None:
    """POSIX seconds, or an ISO 8601 date or date-time (local time when no zone is given)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time: give an ISO date such as 2025-01-31 or "
            "2025-01-31T12:00, or POSIX seconds."
        ) from None


@artifacts.command("list")
@click.option(
    "--run",
    "run_id",
    metavar="RUN_ID",
    help="Every artifact this run produced, re-used or consumed.",
)
@click.option("--name", metavar="NAME", help="Only artifacts with this output name or asset name.")
@click.option(
    "--type",
    "asset_type",
    metavar="TYPE",
    help="Only this asset type (dataset, model, metrics, ...).",
)
@click.option("--tag", metavar="TAG", help="Only artifacts carrying this tag.")
@click.option("--pipeline", "-P", metavar="NAME", help="Only artifacts of this pipeline's runs.")
@click.option(
    "--since", metavar="TIME", help="Created at or after (ISO date/time or POSIX seconds)."
)
@click.option(
    "--until", metavar="TIME", help="Created at or before (ISO date/time or POSIX seconds)."
)
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(min=1))
@_stack_option
@json_option
def list_artifacts(  # noqa: PLR0917 - click passes options as arguments
    run_id: str | None,
    name: str | None,
    asset_type: str | None,
    tag: str | None,
    pipeline: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    stack: str | None,
    as_json: bool,
) -> None:
    """Artifacts, newest first (with --run: in the order the run recorded them)."""
    from flowy_cli.lineage_view import info_dict
    from flowy_cli.output import fmt_time, print_json, print_table, short_id
    from flowy_cli.terminal_text import escape_markup as escape

    filters = {
        "name": name,
        "asset_type": asset_type,
        "tag": tag,
        "pipeline": pipeline,
        "since": _parse_time(since),
        "until": _parse_time(until),
    }
    with store_client(stack) as client:
        if run_id is not None:
            rows = [
                (use.direction, info)
                for use, info in client.run_artifacts(run_id)
                if _matches(info, use.name, filters)
            ][:limit]
        else:
            rows = [("", i) for i in client.search_artifacts(**filters, limit=limit)]
    if as_json:
        print_json([{**info_dict(i), **({"role": role} if role else {})} for role, i in rows])
        return
    columns = ["artifact", "name", "type", "tags", "pipeline", "step", "created", "size"]
    print_table(
        (["role"] if run_id else []) + columns,
        (
            ([escape(role)] if run_id else [])
            + [
                escape(short_id(i.artifact_id)),
                escape(i.asset_name or i.artifact.name),
                escape(i.asset_type if i.asset_type != "artifact" else i.artifact.type_name),
                escape(",".join(i.tags)),
                escape(i.pipeline),
                escape(i.step),
                fmt_time(i.created_at),
                f"{i.artifact.size} B",
            ]
            for role, i in rows
        ),
        empty="No artifacts.",
    )


def _matches(info: Any, edge_name: str, filters: dict[str, Any]) -> bool:
    name = filters["name"]
    if name is not None and name not in (info.artifact.name, info.asset_name, edge_name):
        return False
    if filters["asset_type"] is not None and info.asset_type != filters["asset_type"]:
        return False
    if filters["tag"] is not None and filters["tag"] not in info.tags:
        return False
    if filters["pipeline"] is not None and info.pipeline != filters["pipeline"]:
        return False
    if filters["since"] is not None and info.created_at < filters["since"]:
        return False
    return not (filters["until"] is not None and info.created_at > filters["until"])


@artifacts.command("show")
@click.argument("artifact_id")
@click.option("--no-value", is_flag=True, help="Show the metadata only; do not load the value.")
@_stack_option
@json_option
def show(artifact_id: str, no_value: bool, stack: str | None, as_json: bool) -> None:
    """An artifact's record, the runs that used it, and its value (checksum-verified)."""
    from flowy.kernel.records import to_dict
    from flowy.tracking import Asset

    from flowy_cli.lineage_view import info_dict
    from flowy_cli.output import console, fmt_time, print_json, print_mapping
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        info = client.artifact_info(artifact_id)
        uses = client.artifact_uses(info.artifact_id)
        value: Any = None if no_value else client.load(info.artifact)
    data = info_dict(info)
    data["used_by"] = [to_dict(u) for u in uses if u.direction == "consumed"]
    data["produced_by"] = [to_dict(u) for u in uses if u.direction == "produced"]
    inner = value.value if isinstance(value, Asset) else value
    if as_json:
        if not no_value:
            data["value"] = inner if _jsonable(inner) else repr(inner)
        print_json(data)
        return
    shown = {k: v for k, v in data.items() if k not in ("artifact_id", "used_by", "produced_by")}
    if "created_at" in shown:  # a local date-time for people; --json keeps the seconds
        shown["created_at"] = fmt_time(shown["created_at"])
    print_mapping(f"Artifact {info.artifact_id}", shown)
    for label, key in (("Produced by", "produced_by"), ("Used by", "used_by")):
        lines = [
            escape(f"{u['pipeline']} run {u['run_id'][:12]} step {u['step']} ({u['name']})")
            for u in data[key]
        ]
        console().print(f"[bold]{label}[/]")
        console().print("  " + ("\n  ".join(lines) or "(none)"))
    if not no_value:
        text = repr(inner)
        console().print("[bold]Value[/] [dim](checksum verified)[/]")
        text = text if len(text) <= 2000 else text[:1999] + "…"
        console().print("  " + escape(text, keep_lines=True))  # a frame's repr has many lines


@artifacts.command("lineage")
@click.argument("artifact_id")
@click.option("--upstream", "direction", flag_value="upstream", help="Only ancestors.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only descendants.")
@_stack_option
@json_option
def lineage(artifact_id: str, direction: str | None, stack: str | None, as_json: bool) -> None:
    """Where an artifact came from and what was made from it, transitively."""
    from flowy_cli.lineage_view import graph_dict, render_graph

    with store_client(stack) as client:
        graph = client.lineage(
            artifact_id,
            upstream=direction in (None, "upstream"),
            downstream=direction in (None, "downstream"),
        )
    if as_json:
        from flowy_cli.output import print_json

        print_json(graph_dict(graph))
        return
    render_graph(
        graph,
        upstream=direction in (None, "upstream"),
        downstream=direction in (None, "downstream"),
    )


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
