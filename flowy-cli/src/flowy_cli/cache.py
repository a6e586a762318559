"""``flowy cache stats|clear|explain``: the step cache lives in the stack's metadata store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from flowy_cli.common import (
    json_option,
    parse_assignments,
    plugin_manager,
    stack_option,
    store_client,
)

if TYPE_CHECKING:
    from flowy.tracking import Client

_stack_option = stack_option("Use this stack instead of the active one.")


@click.group()
def cache() -> None:
    """Inspect, clear and explain the step cache."""


@cache.command("stats")
@_stack_option
@json_option
def stats(stack: str | None, as_json: bool) -> None:
    """How many cache entries there are, per pipeline, and how often they were hit."""
    from flowy_cli.output import console, print_json, print_table
    from flowy_cli.terminal_text import escape_markup

    with store_client(stack) as client:
        data = client.cache_stats()
        data = {"stack": client.stack_name, **data}
    if as_json:
        print_json(data)
        return
    console().print(
        f"Stack [bold]{escape_markup(data['stack'])}[/]: "
        f"{escape_markup(data.get('entries', 0))} cache entries, "
        f"{escape_markup(data.get('hits', 0))} hits recorded"
    )
    print_table(
        ("pipeline", "entries"),
        ((escape_markup(p), escape_markup(n)) for p, n in (data.get("pipelines") or {}).items()),
        empty="The cache is empty.",
    )


@cache.command("clear")
@click.option("--step", metavar="NAME", help="Only this step's entries.")
@click.option("--pipeline", "-P", metavar="NAME", help="Only this pipeline's entries.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_stack_option
def clear(step: str | None, pipeline: str | None, yes: bool, stack: str | None) -> None:
    """Forget cache entries so the next run recomputes (artifacts of past runs are kept)."""
    from flowy_cli.output import console

    what = (
        " and ".join(
            part
            for part in (
                f"step {step!r}" if step else "",
                f"pipeline {pipeline!r}" if pipeline else "",
            )
            if part
        )
        or "every step of every pipeline"
    )
    with store_client(stack) as client:
        if step:
            _check_step_known(client, step, pipeline)
        if not yes:
            click.confirm(f"Clear the cache of {what} on stack {client.stack_name!r}?", abort=True)
        count = client.clear_cache(pipeline=pipeline, step=step)
    console().print(
        f"Cleared {count} cache entr{'y' if count == 1 else 'ies'} ({what}).", markup=False
    )


def _check_step_known(client: Client, step: str, pipeline: str | None) -> None:
    """Refuse a step name no run and no cache entry knows (a typo would clear nothing).

    The known names are those of the steps in recent runs (of ``pipeline`` when given)
    and of any step with a cache entry, so a step that only has entries still counts.
    """
    pipelines = [pipeline] if pipeline else list(client.cache_stats().get("pipelines") or {})
    if any(client.store.last_cache_entry(p, step) is not None for p in pipelines):
        return
    known: set[str] = set()
    for run in client.runs(pipeline=pipeline, limit=50):
        known.update(s.step for s in client.steps(run.run_id))
    if step in known:
        return
    scope = f" of pipeline {pipeline!r}" if pipeline else ""
    listing = ", ".join(sorted(known)) if known else f"none (no runs{scope} recorded)"
    raise click.BadParameter(
        f"no step named {step!r}{scope} has run or has cache entries; known steps: {listing}. "
        "Pass one of them (see `flowy cache stats` and `flowy runs show RUN`).",
        param_hint="'--step'",
    )


@cache.command("explain")
@click.argument("target", metavar="FILE.py[:PIPELINE]")
@click.option(
    "--param", "-p", "params", multiple=True, metavar="KEY=VALUE", help="As for `flowy run`."
)
@_stack_option
@json_option
def explain(target: str, params: tuple[str, ...], stack: str | None, as_json: bool) -> None:
    """For each step, would a run now hit the cache, and if not, which part of its key changed?"""
    from flowy.kernel.config import existing_project_for_file
    from flowy.run import explain_cache, load_pipeline, split_spec

    from flowy_cli.output import console, print_json, table
    from flowy_cli.terminal_text import escape_markup as escape

    overrides = parse_assignments(params, "--param")
    pipeline = load_pipeline(target)
    project = existing_project_for_file(split_spec(target)[0])  # as `flowy run` finds it
    explanations = explain_cache(
        pipeline, overrides, stack=stack, plugins=plugin_manager(), project=project
    )
    if as_json:
        print_json({"pipeline": pipeline.name, "steps": [e.to_json() for e in explanations]})
        return
    styles = {
        "hit": "green",
        "miss": "yellow",
        "maybe": "yellow",
        "uncached": "dim",
        "skipped": "dim",
    }
    labels = {"maybe": "miss?"}
    t = table("step", "cache", "why")
    for e in explanations:
        why = escape(e.reason, keep_lines=True)
        if e.changed:
            why += f"\n[dim]changed: {escape(', '.join(e.changed))}[/]"
        for detail in e.details:
            why += f"\n  [dim]{escape(detail, keep_lines=True)}[/]"
        style = styles.get(e.verdict, "")
        verdict = escape(labels.get(e.verdict, e.verdict))
        t.add_row(escape(e.step), f"[{style}]{verdict}[/]", why)
    out = console()
    out.print(
        f"[bold]{escape(pipeline.name)}[/]: {sum(e.verdict == 'hit' for e in explanations)}"
        f"/{len(explanations)} steps would be served from the cache"
    )
    out.print(t)
