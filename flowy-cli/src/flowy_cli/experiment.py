"""``flowy experiment list|runs|compare|best|export``: runs grouped by experiment.

A thin layer over :mod:`flowy.tracking.experiments` (what a run's parameters and
metrics are, ranking, comparison) and :mod:`flowy.tracking.experiment_report` (the
exported report), so the CLI, notebooks and the web UI give the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowy_cli.common import json_option, stack_option, store_client

_stack_option = stack_option()
_mode_option = click.option(
    "--mode",
    type=click.Choice(["max", "min"]),
    default="max",
    show_default=True,
    help="Whether a higher or a lower value is better.",
)


@click.group()
def experiment() -> None:
    """Compare runs grouped by experiment; find the best; export a report."""


@experiment.command("list")
@_stack_option
@json_option
def list_experiments(stack: str | None, as_json: bool) -> None:
    """Experiments, the most recently run first."""
    from flowy.tracking import list_experiments as query
    from rich.markup import escape

    from flowy_cli.output import fmt_time, print_json, print_table

    with store_client(stack) as client:
        rows = query(client.store)
    if as_json:
        print_json(rows)
        return
    print_table(
        ("experiment", "runs", "completed", "failed", "last run", "pipelines"),
        (
            (
                escape(r["name"]),
                str(r["runs"]),
                str(r["completed"]),
                str(r["failed"]),
                fmt_time(r["last_started_at"]),
                escape(", ".join(r["pipelines"])),
            )
            for r in rows
        ),
        empty="No runs yet. Start one with `flowy run pipeline.py`.",
    )


@experiment.command("runs")
@click.argument("name")
@click.option("--status", metavar="STATUS", help="Only runs with this status.")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(min=1))
@_stack_option
@json_option
def experiment_runs(
    name: str, status: str | None, limit: int, stack: str | None, as_json: bool
) -> None:
    """The runs of experiment NAME with their parameters and last metric values."""
    from flowy.tracking import experiment_runs as query
    from flowy.tracking import metric_names, summarize

    from flowy_cli.output import fmt_time, print_json, print_table, short_id, styled_status

    with store_client(stack) as client:
        summaries = summarize(client.store, query(client.store, name, status, limit))
    if as_json:
        print_json([s.to_json() for s in summaries])
        return
    metrics = metric_names(summaries)[:6]
    print_table(
        ("run", "started", "status", "params", *metrics),
        (
            (
                short_id(s.run_id),
                fmt_time(s.run.started_at),
                styled_status(s.run.status),
                _inline(s.params),
                *(_num(s.metrics.get(m), m in s.inherited) for m in metrics),
            )
            for s in summaries
        ),
        empty=f"No {status} runs in experiment {name!r}.",
    )


@experiment.command("compare")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_A RUN_B [RUN ...]")
@click.option("--all", "show_all", is_flag=True, help="Show unchanged rows too.")
@_stack_option
@json_option
def compare(run_ids: tuple[str, ...], show_all: bool, stack: str | None, as_json: bool) -> None:
    """What differs between runs: parameters, metrics (deltas from RUN_A), code, git, env."""
    from flowy.tracking import compare_runs

    from flowy_cli.output import print_json
    from flowy_cli.series import series_of

    with store_client(stack) as client:
        data = compare_runs(client.store, list(run_ids))
        per_run = [series_of(client.metrics(r["run_id"])) for r in data["runs"]]
    keys = list(dict.fromkeys(key for found in per_run for key in found))
    data["series"] = [
        {
            "step": step_name,
            "metric": name,
            "points": [found.get((step_name, name)) for found in per_run],
        }
        for step_name, name in keys
    ]
    if as_json:
        print_json(data)
        return
    from flowy_cli.experiment_view import render_comparison

    render_comparison(data, show_all=show_all)


@experiment.command("best")
@click.argument("name")
@click.option("--metric", "-m", required=True, metavar="METRIC", help="The metric to rank by.")
@_mode_option
@_stack_option
@json_option
def best(name: str, metric: str, mode: str, stack: str | None, as_json: bool) -> None:
    """The completed run of experiment NAME with the best METRIC."""
    from flowy.tracking import best_run

    from flowy_cli.output import console, print_json, print_mapping

    with store_client(stack) as client:
        winner, ranked = best_run(client.store, name, metric, mode)
    if as_json:
        print_json({
            **winner.to_json(), "metric": metric, "mode": mode,
            "value": winner.metrics[metric], "ranked": len(ranked),
        })  # fmt: skip
        return
    console().print(
        f"Best of {len(ranked)} runs by {metric} ({mode}): [bold]{winner.run_id}[/] "
        f"{metric}={winner.metrics[metric]:.6g}",
        highlight=False,
    )
    print_mapping("Parameters", winner.params)
    print_mapping("Metrics", {k: f"{v:.6g}" for k, v in winner.metrics.items()})


@experiment.command("export")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html",
    show_default=True, help="Report format.",
)  # fmt: skip
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="File to write ('-' for stdout).",
)  # fmt: skip
@click.option("--metric", "-m", metavar="METRIC", help="Metric to chart (default: most logged).")
@_mode_option
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Only the newest N runs.")
@_stack_option
def export(  # noqa: PLR0917 - click passes options as arguments
    name: str,
    fmt: str,
    output: Path,
    metric: str | None,
    mode: str,
    limit: int | None,
    stack: str | None,
) -> None:
    """Write a report on experiment NAME: a metrics table and a chart over runs.

    The HTML report is one self-contained file (inline CSS and SVG, no
    network needed to view it).
    """
    import os
    import sys

    from flowy.tracking import build_report
    from flowy.tracking import render_report as render

    from flowy_cli.output import err_console

    with store_client(stack) as client:
        text = render(build_report(client.store, name, metric, mode, limit), fmt)
    if str(output) == "-":
        from flowy_cli.terminal_text import escape_text

        # Names and values from the store, escaped (lossless for any valid report).
        sys.stdout.write(escape_text(text, keep_lines=True))
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)
    err_console().print(f"Wrote {fmt} report on experiment {name!r} to {output}", markup=False)


def _inline(params: dict[str, Any], limit: int = 50) -> str:
    import json

    from rich.markup import escape

    text = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items())
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _num(value: float | None, inherited: bool = False) -> str:
    if value is None:
        return "[dim]-[/]"
    return f"{value:.6g}" + (" [dim](cached)[/]" if inherited else "")
