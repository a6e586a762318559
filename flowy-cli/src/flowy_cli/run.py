"""``flowy run FILE.py[:PIPELINE]``: run a pipeline with live progress and a summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowy_cli import __version__
from flowy_cli.common import parse_assignments, plugin_manager, split_assignments, stack_option
from flowy_cli.sweep import sweep_options, wants_sweep

if TYPE_CHECKING:
    from flowy.run import RunResult


@click.command()
@click.argument("target", metavar="FILE.py[:PIPELINE]")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help=(
        "Set a parameter. VALUE is converted to the type the steps annotate it with "
        "(n: int takes 3; lists and dicts as JSON); unannotated, it is JSON when it parses, "
        "else a string. Overrides --params."
    ),
)
@click.option(
    "--params",
    "params_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read parameters from a .json, .toml or .yaml/.yml file (YAML needs PyYAML).",
)
@stack_option("Run on this stack instead of the active one.")
@click.option("--no-cache", is_flag=True, help="Run every step, ignoring cached results.")
@click.option(
    "--executor-option",
    "executor_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override an executor option for this run (e.g. max_workers=4).",
)
@click.option("--resume", metavar="RUN_ID", help="Re-use the completed steps of an earlier run.")
@click.option(
    "--experiment", metavar="NAME", help="File the run under this experiment (default: pipeline's)."
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="STEP",
    help=(
        "Run only this step (repeat for several). Steps it reads from come from the cache "
        "or the latest run that completed them; the others are recorded as skipped."
    ),
)
@click.option(
    "--from", "from_step", metavar="STEP", help="Run this step and everything downstream of it."
)
@click.option(
    "--to", "to_step", metavar="STEP", help="Run this step and everything upstream of it."
)
@sweep_options
@click.pass_context
def run(  # noqa: PLR0917 - click passes options as arguments
    ctx: click.Context,
    target: str,
    params: tuple[str, ...],
    params_file: Path | None,
    stack: str | None,
    no_cache: bool,
    executor_options: tuple[str, ...],
    resume: str | None,
    experiment: str | None,
    only: tuple[str, ...],
    from_step: str | None,
    to_step: str | None,
    sweeps: tuple[str, ...],
    sweep_random: int | None,
    sweep_file: Path | None,
    seed: int | None,
    sweep_parallel: int | None,
) -> None:
    """Run the pipeline in FILE.py (name it with :PIPELINE when the file has several).

    With --sweep (or --sweep-file), run it once per combination of the swept values,
    under one experiment; steps no swept parameter reaches run once for all.

    Exits 1 when the run (or any run of a sweep) fails and 130 when interrupted.
    """
    from flowy.kernel.config import load_settings, project_for_file
    from flowy.run import (
        load_params_file,
        load_pipeline,
        params_from_text,
        run_pipeline,
        split_spec,
    )

    from flowy_cli.output import console, own_descriptors
    from flowy_cli.progress import ProgressReporter, stdout_gone

    # Steps' own output (native included) goes to their logs; ours keeps the terminal, and
    # so does what the pipeline file sets up to print (a logging handler on sys.stderr).
    with own_descriptors():
        raw = split_assignments(params, "--param")  # text: the annotations decide its type
        exec_opts = parse_assignments(executor_options, "--executor-option")
        pipeline = load_pipeline(target)
        project = project_for_file(split_spec(target)[0])  # the file's project, not the cwd's
        overrides = load_params_file(params_file) if params_file is not None else {}
        if wants_sweep(sweeps, sweep_random, sweep_file, seed, sweep_parallel):
            _no_sweep_with(resume=resume, only=only, from_step=from_step, to_step=to_step)
            from flowy_cli.sweep import run_sweep

            code = run_sweep(
                pipeline,
                sweeps=sweeps,
                sweep_random=sweep_random,
                sweep_file=sweep_file,
                seed=seed,
                sweep_parallel=sweep_parallel,
                raw_params=raw,
                file_params=overrides,
                stack=stack,
                no_cache=no_cache,
                executor_options=exec_opts or None,
                experiment=experiment,
                project=project,
                plugins=plugin_manager,
            )
            ctx.exit(code)
        overrides.update(params_from_text(pipeline.name, pipeline.annotations, raw))
        plugins = plugin_manager()
        live = sys.stdout.isatty() and bool(load_settings(project).get("progress", True))
        reporter = ProgressReporter(live=live, resumed_from=resume)
        plugins.register(reporter, "flowy-cli-progress", "flowy-cli", __version__)
        try:
            result = run_pipeline(
                pipeline,
                stack=stack,
                params=overrides,
                no_cache=no_cache,
                plugins=plugins,
                executor_options=exec_opts or None,
                resume=resume,
                experiment=experiment,
                project=project,
                only=only,
                from_step=from_step,
                to_step=to_step,
            )
        except KeyboardInterrupt:
            reporter.close()
            if reporter.run_id:
                console().print(f"Run {reporter.run_id} was cancelled.", markup=False)
            raise
        finally:
            reporter.close()
        try:
            _summary(result)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the run is recorded; its summary has no reader
            stdout_gone()
    if not result.ok:
        ctx.exit(1)


def _no_sweep_with(**given: object) -> None:
    """Refuse run options that name one run (``--resume``) or part of one with a sweep."""
    flags = {"resume": "--resume", "only": "--only", "from_step": "--from", "to_step": "--to"}
    used = [flags[k] for k, v in given.items() if v]
    if used:
        raise click.UsageError(
            f"{', '.join(used)} cannot be combined with a sweep: a sweep starts a whole run "
            "per combination. Run the sweep without it."
        )


def _debug() -> bool:
    """``flowy --debug`` (or FLOWY_DEBUG) was asked for."""
    import os

    ctx = click.get_current_context(silent=True)
    flag = bool(ctx is not None and (ctx.find_root().obj or {}).get("debug"))
    return flag or os.environ.get("FLOWY_DEBUG", "") not in ("", "0")


def _summary(result: RunResult) -> None:
    from flowy_cli.output import fmt_duration, plain_stdout

    counts: dict[str, int] = {}
    for record in result.steps.values():
        counts[record.status] = counts.get(record.status, 0) + 1
    took = fmt_duration(result.duration)  # the run record's, as `flowy runs list` shows it
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    from flowy_cli.terminal_text import escape_text

    failed = [  # names and messages from the pipeline: escaped for the terminal
        (escape_text(name), escape_text(record.error or record.status, keep_lines=True))
        for name, record in result.steps.items()
        if record.status in ("failed", "timed_out")
    ]
    if _debug():  # `flowy --debug run`: each failed step's traceback, before the summary
        for name, record in result.steps.items():
            if record.traceback and record.status in ("failed", "timed_out"):
                text = escape_text(record.traceback.rstrip("\n"), keep_lines=True)
                sys.stderr.write(f"Traceback of step {escape_text(name)} (--debug):\n{text}\n")
    if plain_stdout():  # logs and pipes: the same words, without importing rich
        lines = ["", f"Run {result.run_id} {result.status} in {took} ({parts})"]
        for name, error in failed:
            lines.append(f"  {name}: {error}")
            lines.append(f"    see its output: flowy logs {result.run_id} --step {name}")
        if result.ok:
            lines.append(f"Details: flowy runs show {result.run_id}")
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.markup import escape

    from flowy_cli.output import console, styled_status

    out = console()
    out.print()
    out.print(f"Run [bold]{result.run_id}[/] {styled_status(result.status)} in {took} ({parts})")
    for name, error in failed:
        out.print(
            f"  [red]{escape(name)}[/]: {escape(error)}\n"
            f"    see its output: flowy logs {result.run_id} --step {escape(name)}"
        )
    if result.ok:
        out.print(f"[dim]Details: flowy runs show {result.run_id}[/]")
