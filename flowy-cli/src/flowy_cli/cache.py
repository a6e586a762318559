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
        shared = [(i.describe(), i.stats()) for i in client.cache_indexes()[1:]]
        if shared:
            data["shared_index"] = {"where": shared[0][0], **shared[0][1]}
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
    for where, found in shared:
        console().print(
            f"Shared index ({escape_markup(where)}): {escape_markup(found.get('entries', 0))} "
            f"entries, {escape_markup(found.get('hits', 0))} hits, "
            f"{escape_markup(_fmt_bytes(found.get('bytes', 0)))} of outputs"
        )


@cache.command("clear")
@click.option("--step", metavar="NAME", help="Only this step's entries.")
@click.option("--pipeline", "-P", metavar="NAME", help="Only this pipeline's entries.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_stack_option
def clear(step: str | None, pipeline: str | None, yes: bool, stack: str | None) -> None:
    """Forget cache entries so the next run recomputes (artifacts of past runs are kept).

    On a stack with a shared cache index (cache_index), its matching entries go
    too: every machine sharing it recomputes.
    """
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
        for index in client.cache_indexes()[1:]:  # the shared index, or it would serve them
            count += index.clear(pipeline=pipeline, step=step)
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


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str) -> int:
    """``500MB``, ``20GB``, ``1.5GiB``, ``1000`` (bytes) -> bytes; BadParameter otherwise."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS:
        raise click.BadParameter(
            f"{text!r} is not a size; write a number with a unit: 500MB, 20GB, 1.5GiB "
            "(or a number of bytes).",
            param_hint="'--max-size'",
        )
    return int(float(found.group(1)) * _UNITS[unit])


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w``, ``3600`` (seconds) -> seconds."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if found is None or float(found.group(1)) <= 0:
        raise click.BadParameter(
            f"{text!r} is not a duration; write a positive number with a unit: 90s, 30m, "
            "12h, 7d, 2w (or a number of seconds).",
            param_hint="'--ttl'",
        )
    return float(found.group(1)) * _SECONDS[found.group(2) or "s"]


@cache.command("limits")
@click.option("--pipeline", "-P", metavar="NAME", help="Limits of this pipeline only "
              "(default: of every pipeline without its own).")  # fmt: skip
@click.option("--ttl", metavar="DURATION", help="Serve an entry this long after it was "
              "recorded: 90s, 30m, 12h, 7d, 2w.")  # fmt: skip
@click.option("--max-size", metavar="SIZE", help="Budget of a pipeline's entries (the sum of "
              "their outputs' sizes): 500MB, 20GB; the least recently used go first.")  # fmt: skip
@click.option("--clear", "clear_limits", is_flag=True, help="Remove the limits (of --pipeline).")
@_stack_option
@json_option
def limits(
    *,
    pipeline: str | None,
    ttl: str | None,
    max_size: str | None,
    clear_limits: bool,
    stack: str | None,
    as_json: bool,
) -> None:
    """Show or set the cache's ttl and size budget per pipeline.

    \b
    Without --ttl, --max-size or --clear, prints the limits. Setting them
    writes them to the stack's metadata store and, when the stack names a
    shared cache index (cache_index, e.g. redis), to that index too; the
    entries already over them are evicted at once. A run applies its
    pipeline's limits when it starts; `flowy gc` collects the artifacts that
    only evicted entries held.
    \b
    Examples:
      flowy cache limits --ttl 7d --max-size 20GB
      flowy cache limits -P train --max-size 500MB
      flowy cache limits -P train --clear
    """
    from flowy.kernel.cache_index import EVERY_PIPELINE, CacheLimits

    from flowy_cli.output import console, print_json, print_table

    if clear_limits and (ttl or max_size):
        raise click.UsageError("--clear removes limits: pass it without --ttl and --max-size.")
    name = pipeline or EVERY_PIPELINE
    changing = clear_limits or ttl is not None or max_size is not None
    with store_client(stack) as client:
        indexes = client.cache_indexes()
        evicted = 0
        if changing:
            current = indexes[0].limits().get(name, CacheLimits())
            new = CacheLimits(
                ttl=parse_duration(ttl) if ttl is not None else current.ttl,
                max_bytes=parse_size(max_size) if max_size is not None else current.max_bytes,
            )
            for index in indexes:
                index.set_limits(name, None if clear_limits else new)
                evicted += len(index.evict(pipeline))
        shown = {i.describe(): i.limits() for i in indexes}
    if as_json:
        print_json(
            {
                "stack": client.stack_name,
                "evicted": evicted,
                "indexes": {
                    where: {p or "*": lim.to_json() for p, lim in found.items()}
                    for where, found in shown.items()
                },
            }
        )
        return
    rows = [
        (where, p or "* (every pipeline)", _fmt_ttl(lim.ttl), _fmt_bytes(lim.max_bytes))
        for where, found in shown.items()
        for p, lim in sorted(found.items())
    ]
    print_table(("index", "pipeline", "ttl", "max size"), rows, empty="No cache limits are set.")
    if changing:
        console().print(f"Evicted {evicted} entr{'y' if evicted == 1 else 'ies'}.", markup=False)


def _fmt_ttl(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _fmt_bytes(size: int | None) -> str:
    from flowy_cli.gc import fmt_size

    return "-" if size is None else fmt_size(size)
