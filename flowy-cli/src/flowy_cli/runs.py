"""``flowy runs list|show|env`` and ``flowy logs``: what ran, read through the ``Client``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowy_cli.common import (
    json_option,
    output_option,
    stack_option,
    store_client,
    write_output,
)

if TYPE_CHECKING:
    from flowy.tracking import Client

_stack_option = stack_option()


@click.group()
def runs() -> None:
    """List recorded runs and show one in detail."""


@runs.command("list")
@click.option("--pipeline", "-P", metavar="NAME", help="Only runs of this pipeline.")
@click.option("--status", metavar="STATUS", help="Only runs with this status (e.g. failed).")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--metric", "-m", "metrics", multiple=True, metavar="NAME",
    help="Show this metric's last value as a column (repeatable); "
    "default: the three metrics most of the listed runs logged.",
)  # fmt: skip
@click.option(
    "--filter", "-f", "query", metavar="FILTER",
    help="Only runs matching this filter, as in the web UI: "
    "'status:failed metrics.r2>0.9 params.alpha=0.1' (docs/ui.md).",
)  # fmt: skip
@click.option(
    "--sort", "sort", metavar="FIELD",
    help="Sort by this field (started, duration, metrics.NAME, params.NAME...), "
    "descending unless --asc.",
)  # fmt: skip
@click.option("--asc", is_flag=True, help="With --sort: ascending.")
@_stack_option
@json_option
def list_runs(  # noqa: PLR0917 - one argument per click option
    pipeline: str | None,
    status: str | None,
    limit: int,
    metrics: tuple[str, ...],
    query: str | None,
    sort: str | None,
    asc: bool,
    stack: str | None,
    as_json: bool,
) -> None:
    """Recorded runs, newest first (or as sorted), with their parameters and key metrics."""
    from flowy.kernel.records import to_dict
    from flowy.tracking import metric_names, summarize

    from flowy_cli.output import fmt_duration, fmt_time, print_json, print_table, short_id
    from flowy_cli.output import styled_status as styled
    from flowy_cli.terminal_text import escape_markup

    with store_client(stack) as client:
        if query or sort:
            records = _searched(client, query, sort, asc, pipeline, status, limit)
        else:
            records = client.runs(pipeline=pipeline, status=status, limit=limit)
        summaries = summarize(client.store, records)
        empty = _no_runs_message(client, pipeline, status) if not records else ""
    last = {s.run_id: s.metrics for s in summaries}
    if as_json:
        print_json([{**to_dict(r), "metrics": last.get(r.run_id, {})} for r in records])
        return
    shown = list(metrics) or metric_names(summaries)[:3]
    print_table(
        ("run", "pipeline", "status", "started", "duration", "params", *shown),
        (
            (
                escape_markup(short_id(r.run_id)),
                escape_markup(r.pipeline),
                styled(r.status),
                fmt_time(r.started_at),
                fmt_duration(r.finished_at - r.started_at if r.finished_at else None),
                _params(r.params),
                *(_metric_cell(last.get(r.run_id, {}).get(m)) for m in shown),
            )
            for r in records
        ),
        empty=empty,
        whole=shown,
    )


def _searched(  # noqa: PLR0917 - the options of list_runs, passed on
    client: Any,
    query: str | None,
    sort: str | None,
    asc: bool,
    pipeline: str | None,
    status: str | None,
    limit: int,
) -> list[Any]:
    """The first ``limit`` runs of a filtered, sorted search (the store sorts and pages)."""
    from flowy.kernel.run_query import And, Comparison, RunQuery
    from flowy.tracking import parse_run_filter, parse_run_sort

    terms = [parse_run_filter(query or "")]
    terms += [Comparison(f, "=", v) for f, v in (("pipeline", pipeline), ("status", status)) if v]
    found = [t for t in terms if t is not None]
    flat = [x for t in found for x in (t.terms if isinstance(t, And) else (t,))]
    run_filter = None if not flat else flat[0] if len(flat) == 1 else And(tuple(flat))
    run_sort = parse_run_sort(sort or "started", "asc" if asc else "desc")
    return list(client.store.search_runs(RunQuery(run_filter, run_sort, limit)).runs)


#: How many runs are counted for the "none match" message (a count past it says "over").
COUNT_LIMIT = 10_000


def _no_runs_message(client: Any, pipeline: str | None, status: str | None) -> str:
    """Why the list is empty: no runs at all, or none match the filters (and how many exist)."""
    if not pipeline and not status:
        return "No runs yet. Start one with `flowy run pipeline.py`."
    from flowy.kernel.records import RUN_STATUSES

    total = len(client.runs(limit=COUNT_LIMIT))
    filters = " and ".join(
        f
        for f in (
            f"pipeline {pipeline!r}" if pipeline else "",
            f"status {status!r}" if status else "",
        )
        if f
    )
    exist = f"{'over ' if total >= COUNT_LIMIT else ''}{total} run{'' if total == 1 else 's'}"
    hint = (
        ""
        if status is None or status in RUN_STATUSES
        else (f" Statuses are: {', '.join(RUN_STATUSES)}.")
    )
    return (
        f"No runs match {filters} ({exist} recorded in all).{hint} "
        "Drop or change the filter to see them: `flowy runs list`."
    )


def _metric_cell(value: float | None) -> str:
    return "[dim]-[/]" if value is None else f"{value:.6g}"


def _params(params: dict[str, Any], limit: int = 60) -> str:
    import json

    from flowy_cli.terminal_text import escape_markup

    text = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items())
    return escape_markup(text if len(text) <= limit else text[: limit - 1] + "…")


@runs.command("show")
@click.argument("run_id")
@_stack_option
@json_option
def show_run(run_id: str, stack: str | None, as_json: bool) -> None:
    """Everything recorded about one run (RUN_ID may be a unique prefix, or `latest`).

    Each step's line ends with what it used: CPU seconds, peak memory (RSS), bytes
    read and written, and GPU memory and utilisation where NVML measured them
    (docs/operations.md, "Resource usage per step"); --json has them as numbers.
    """
    with store_client(stack) as client:
        data = _run_details(client, run_id)
    if as_json:
        from flowy_cli.output import print_json

        print_json(data)
        return
    _render_run(data)


def _run_details(client: Client, run_id: str) -> dict[str, Any]:
    from flowy.kernel.records import to_dict
    from flowy.kernel.redact import mask

    if run_id == "latest":  # not a prefix: run ids are hexadecimal
        from flowy.kernel.errors import RunNotFoundError

        newest = client.runs(limit=1)
        if not newest:
            raise RunNotFoundError("No run is recorded yet: start one with `flowy run FILE`.")
        run_id = newest[0].run_id
    run = client.run(run_id)
    metrics: dict[str, list[dict[str, Any]]] = {}
    for step_name, metric in client.metrics(run.run_id):
        metrics.setdefault(step_name, []).append(to_dict(metric))
    steps = []
    for record in client.steps(run.run_id):
        outputs = {}
        for name, artifact_id in record.outputs.items():
            try:
                outputs[name] = to_dict(client.artifact(artifact_id))
            except Exception as exc:  # noqa: BLE001 - show what is known
                outputs[name] = {"artifact_id": artifact_id, "error": str(exc)}
        item = to_dict(record)
        item.pop("logs", None)
        item["duration"] = record.duration
        item["outputs"] = outputs
        item["metrics"] = metrics.get(record.step, [])
        steps.append(item)
    data = to_dict(run)
    data["stack"] = mask(data.get("stack") or {})  # also runs recorded before masking improved
    data["duration"] = run.finished_at - run.started_at if run.finished_at else None
    data["steps"] = steps
    from flowy_cli.series import series_of

    data["series"] = [
        {"step": step_name, "metric": name, "points": points}
        for (step_name, name), points in series_of(client.metrics(run.run_id)).items()
    ]
    return data


def _render_run(data: dict[str, Any]) -> None:
    """The run for people; every name and value from the store is escaped (terminal_text)."""
    from flowy_cli.output import (
        console,
        fmt_duration,
        fmt_time,
        print_mapping,
        styled_status,
        table,
    )
    from flowy_cli.resource_view import resource_line
    from flowy_cli.terminal_text import escape_markup as escape

    out = console()
    out.print(
        f"[bold]Run {escape(data['run_id'])}[/]  {escape(data['pipeline'])}  "
        f"{styled_status(data['status'])}  started {fmt_time(data['started_at'])}, "
        f"took {fmt_duration(data['duration'])}"
    )
    stack = data.get("stack") or {}
    print_mapping("Parameters", data.get("params") or {})
    print_mapping(
        "Stack",
        {
            "name": stack.get("name", "?"),
            "source": stack.get("source", "?"),
            **{
                kind: f"{c.get('type')} ({c.get('distribution')} {c.get('version')})"
                for kind, c in (stack.get("components") or {}).items()
            },
        },
    )
    git = dict(data.get("git") or {})
    git.pop("diff", None)
    print_mapping("Git", git)
    env = dict(data.get("environment") or {})
    print_mapping("Environment", {k: env[k] for k in ("python", "platform") if k in env})
    t = table("step", "status", "duration", "attempts", "outputs / error")
    for step in data["steps"]:
        error = step.get("error")
        detail = (
            escape(error, keep_lines=True) if error is not None else _outputs_cell(step["outputs"])
        )
        metrics = _metric_summary(step.get("metrics", []))
        if metrics:
            detail = f"{detail}\n[dim]metrics:[/] {escape(metrics)}"
        run_params = data.get("params") or {}
        logged = {k: v for k, v in (step.get("params") or {}).items() if run_params.get(k) != v}
        if logged:
            detail = f"{detail}\n[dim]params:[/] {_params(logged, limit=200)}"
        if used := resource_line(step):
            detail = f"{detail}\n[dim]used:[/] {used}"
        t.add_row(
            escape(step["step"]),
            styled_status(step["status"]),
            fmt_duration(step["duration"]),
            escape(step.get("attempts", "")),
            detail if error is None else f"[red]{detail}[/]",
        )
    out.print("[bold]Steps[/]")
    out.print(t)
    from flowy_cli.series import print_series

    print_series({(s["step"], s["metric"]): s["points"] for s in data.get("series", [])})


def _outputs_cell(outputs: dict[str, dict[str, Any]]) -> str:
    """A step's outputs for the steps table; the elements of an output stored element by
    element for a map (``items[0]``...) are counted, not listed (there may be thousands)."""
    from flowy.artifacts import element_of

    elements: dict[str, int] = {}
    shown = []
    for name, o in outputs.items():
        element = element_of(name)
        if element is not None:
            elements[element[0]] = elements.get(element[0], 0) + 1
            continue
        shown.append((name, o))
    return ", ".join(
        _output_cell(name, o)
        + (f" [dim]({elements[name]} elements)[/]" if name in elements else "")
        for name, o in shown
    )


def _output_cell(name: str, o: dict[str, Any]) -> str:
    """``name type size B materializer id`` of one output, escaped, for the steps table."""
    from flowy_cli.output import short_id
    from flowy_cli.terminal_text import escape_markup as escape

    return (
        f"{escape(name)} [dim]{escape(o.get('type_name', '?'))} {escape(o.get('size', '?'))} B "
        f"{escape(o.get('materializer', ''))} {escape(short_id(str(o.get('artifact_id', ''))))}[/]"
    )


def _metric_summary(metrics: list[dict[str, Any]]) -> str:
    """``name=last`` per metric, with the count when a step logged a series."""
    last: dict[str, float] = {}
    count: dict[str, int] = {}
    for m in metrics:
        last[m["name"]] = m["value"]
        count[m["name"]] = count.get(m["name"], 0) + 1
    return ", ".join(
        f"{k}={v:g}" + (f" (last of {count[k]})" if count[k] > 1 else "") for k, v in last.items()
    )


@runs.command("env")
@click.argument("run_id")
@click.option(
    "--requirements", "-r", is_flag=True,
    help="Print the run's installed packages as a pip requirements file.",
)  # fmt: skip
@output_option
@_stack_option
@json_option
def run_env(
    run_id: str, requirements: bool, output: Path | None, stack: str | None, as_json: bool
) -> None:
    """The environment a run recorded, and its packages as a requirements file (-r)."""
    import json

    from flowy.run import requirements_text

    from flowy_cli.output import print_mapping

    with store_client(stack) as client:
        run = client.run(run_id)
    env = dict(run.environment)
    if requirements:
        header = f"Installed packages of Flowy run {run.run_id} ({run.pipeline})."
        if not env.get("installed"):
            header += "\nThis run recorded only key packages, not every installed one."
        text = requirements_text(env, header)
    elif as_json:
        text = json.dumps(env, indent=2, default=str) + "\n"
    else:
        installed = env.pop("installed", None) or {}
        env.pop("sources", None)
        print_mapping(f"Environment of run {run.run_id}", env)
        print_mapping(
            "Installed",
            {"distributions": len(installed), "requirements": f"flowy runs env {run_id} -r"},
        )
        return
    write_output(text, output)


@click.command()
@click.argument("run_id")
@click.option("--step", "step_name", metavar="NAME", help="Only this step's output.")
@_stack_option
@json_option
def logs(run_id: str, step_name: str | None, stack: str | None, as_json: bool) -> None:
    """Captured stdout, stderr and log records of a run's steps, and a failed step's traceback.

    Stdout and stderr include what native code wrote (a C extension such as
    TensorFlow, a program the step started), in order. Newlines and tabs are
    printed as captured; other control characters (a colour code, a carriage
    return of a progress bar) are shown escaped.
    """
    from flowy_cli.output import console, print_json
    from flowy_cli.terminal_text import escape_markup, escape_text

    with store_client(stack) as client:
        found = client.logs(run_id, step_name)
        # The summary of a failed run points here: the traceback is the step record's.
        for record in client.steps(run_id):
            if record.traceback and record.step in found:
                found[record.step] = _with_traceback(found[record.step], record.traceback)
    if as_json:
        print_json(found)
        return
    out = console()
    for name, text in found.items():
        out.print(f"[bold]── {escape_markup(name)} ──[/]")
        if text:
            # Written as captured (rich would expand tabs and wrap long lines), escaped.
            out.file.write(escape_text(text.rstrip("\n"), keep_lines=True) + "\n")
            out.file.flush()
        else:
            out.print("[dim](no output)[/]")


def _with_traceback(text: str, traceback: str) -> str:
    """The captured output, then the traceback the step failed with (once)."""
    if traceback.strip() in text:
        return text
    head = text.rstrip("\n") + "\n" if text.strip() else ""
    return head + traceback.rstrip("\n") + "\n"


def _add_delete() -> None:
    from flowy_cli.runs_cancel import cancel
    from flowy_cli.runs_delete import delete

    runs.add_command(delete)
    runs.add_command(cancel)


_add_delete()
