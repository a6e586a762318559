"""``flowy plugins [check]``: what is installed, what it provides, and whether it loaded.

A plugin that failed to import or raised in a registration hook is listed
with its error rather than hidden: that is how a user finds out why a stack
does not resolve. ``flowy plugins check`` turns the same facts into an exit
code for CI: 1 when a plugin failed to load, declares a flowy-core range that
excludes the installed core, or two plugins register the same name.
"""

from __future__ import annotations

from typing import Any

import click

from flowy_cli.common import json_option


def _collect() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every plugin's facts, and every registration clash (names both distributions).

    Never strict: with ``FLOWY_STRICT_PLUGINS=1`` the first failure would hide the
    others, and ``plugins check`` exists to report them all (it fails on any).
    """
    from flowy.kernel.plugins import create_plugin_manager

    plugins = create_plugin_manager(strict=False)
    registry = plugins.registry  # builds it: fills `provides` and registration errors
    rows = [
        info.to_json()
        for name, info in sorted(plugins.infos.items())
        if name != "flowy-cli-progress"
    ]
    clashes = [
        {
            "kind": group[0].kind,
            "name": group[0].name,
            "distributions": [r.distribution for r in group],
            "qualified_names": [r.qualified_name for r in group],
        }
        for group in registry.clashes()
    ]
    return rows, clashes


def _choose(clash: dict[str, Any]) -> str:
    """What to do about a clash: stacks name components; materializers are chosen by type."""
    names = " or ".join(clash["qualified_names"])
    dists = " or ".join(clash["distributions"])
    if clash["kind"] == "materializer":
        return (
            f"outputs of the types both handle use the later registration; `flowy "
            f"materializers which TYPE` shows which. Uninstall {dists} (or set "
            "FLOWY_DISABLE_PLUGINS) to keep only one."
        )
    return f"a stack must name one as {names}."


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Installed plugins: distribution, version, status, hooks and what each provides."""
    if ctx.invoked_subcommand is not None:
        return
    from flowy_cli.output import console, print_json, styled_status, table
    from flowy_cli.terminal_text import escape_markup as escape

    rows, clashes = _collect()
    if as_json:
        print_json({"plugins": rows, "clashes": clashes})
        return
    t = table("plugin", "version", "status", "provides", "hooks")
    for row in rows:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(row["provides"].items()))
        status = styled_status(row["status"])
        if row["error"]:
            status += f"\n[red]{escape(row['error'], keep_lines=True)}[/]"
        name = escape(row["name"])
        if row["distribution"] != row["name"]:
            name += f" [dim]({escape(row['distribution'])})[/]"
        t.add_row(
            name,
            escape(row["version"]),
            status,
            escape(provides),
            escape(", ".join(h.removeprefix("flowy_") for h in row["hooks"])),
        )
    out = console()
    out.print(t)
    for clash in clashes:
        out.print(
            f"[yellow]Clash:[/] {escape(clash['kind'])} {escape(repr(clash['name']))} is "
            "registered by "
            f"{escape(' and '.join(clash['distributions']))}; {_choose(clash)}"
        )


@plugins.command("check")
@json_option
def check(as_json: bool) -> None:
    """Exit 1 when a plugin failed to load, is incompatible, or clashes with another."""
    from flowy_cli.output import console, print_json
    from flowy_cli.terminal_text import escape_markup as escape

    rows, clashes = _collect()
    failed = [r for r in rows if r["status"] in ("failed", "incompatible")]
    problems = [f"{r['name']} ({r['distribution']} {r['version']}): {r['error']}" for r in failed]
    problems += [
        f"{c['kind']} {c['name']!r} is registered by both {' and '.join(c['distributions'])}"
        for c in clashes
    ]
    if as_json:
        print_json({"ok": not problems, "problems": problems})
    else:
        out = console()
        if problems:
            for problem in problems:
                out.print(f"[red]✗[/] {escape(problem, keep_lines=True)}")
        else:
            out.print(f"[green]✓[/] {len(rows)} plugins loaded, no clashes.")
    if problems:
        raise click.exceptions.Exit(1)
