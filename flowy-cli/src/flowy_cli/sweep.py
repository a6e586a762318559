"""``flowy run FILE.py --sweep ...``: one run per combination, with progress and a final table.

The options are declared on ``flowy run`` (:mod:`flowy_cli.run`); this module
turns them into a :class:`~flowy.run.sweep_spec.SweepSpec`, runs it with
:func:`flowy.run.sweep.sweep`, prints a line each time a combination starts or
ends (with the counts of running, done, failed and waiting ones), and then one
table row per combination: its values, run id, status and metrics. The exit
code is 1 when any run failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flowy import Pipeline
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run import SweepEvent, SweepResult, SweepRun

#: Metric columns the final table shows at most (``flowy experiment compare`` shows all).
MAX_METRICS = 4


def sweep_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The sweep options of ``flowy run``."""
    options = [
        click.option(
            "--sweep",
            "sweeps",
            multiple=True,
            metavar="NAME=VALUES",
            help=(
                "Sweep a parameter: one run per value (a grid with the other --sweep "
                "options): alpha=0.01,0.1,1 or alpha='[0.01, 0.1]'. With --sweep-random, a "
                "range to draw from: alpha=log:1e-4..1e-1, depth=int:2..8, x=0..1, "
                "kind=choice:a,b."
            ),
        ),
        click.option(
            "--sweep-random",
            "sweep_random",
            type=int,
            metavar="N",
            help="Draw N values from each --sweep range (per grid point, if there is a grid).",
        ),
        click.option(
            "--sweep-file",
            "sweep_file",
            metavar="FILE",
            type=click.Path(dir_okay=False, path_type=Path),
            help=(
                "Read the sweep from a .json, .toml or .yaml file: grid (name -> list), "
                "random (name -> range or list), samples, seed."
            ),
        ),
        click.option(
            "--seed", type=int, metavar="N", help="Seed of --sweep-random's draws (reproducible)."
        ),
        click.option(
            "--sweep-parallel",
            "sweep_parallel",
            type=int,
            metavar="N",
            help="Runs of a sweep at once (default: the number of CPUs).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def wants_sweep(
    sweeps: Sequence[str],
    sweep_random: int | None,
    sweep_file: Path | None,
    seed: int | None,
    sweep_parallel: int | None,
) -> bool:
    """Whether any sweep option was given (then ``flowy run`` runs a sweep)."""
    return bool(sweeps) or any(
        v is not None for v in (sweep_random, sweep_file, seed, sweep_parallel)
    )


def run_sweep(
    pipeline: Pipeline,
    *,
    sweeps: Sequence[str],
    sweep_random: int | None,
    sweep_file: Path | None,
    seed: int | None,
    sweep_parallel: int | None,
    raw_params: Mapping[str, str],
    file_params: Mapping[str, Any],
    stack: str | None,
    no_cache: bool,
    executor_options: Mapping[str, Any] | None,
    experiment: str | None,
    project: Path,
    plugins: Callable[[], FlowyPlugins],
) -> int:
    """Run the sweep the options describe; the exit code (1 if any run did not complete)."""
    from flowy.kernel.errors import ParameterError
    from flowy.run import load_sweep_file, params_from_text, run_sweep, sweep_from_cli

    if sweep_parallel is not None and sweep_parallel < 1:
        raise ParameterError(f"--sweep-parallel must be at least 1 (got {sweep_parallel}).")
    base = load_sweep_file(sweep_file, check=False) if sweep_file is not None else None
    if seed is not None and sweep_random is None and not (base and base.random):
        raise ParameterError(
            "--seed sets the seed of random draws: add --sweep-random N and a range "
            "(like --sweep alpha=log:1e-4..1e-1), or drop --seed."
        )
    spec = sweep_from_cli(sweeps, sweep_random, seed, base)
    fixed = dict(file_params)
    swept_here = [n for n in spec.names if n in raw_params]
    if swept_here:
        raise ParameterError(
            f"{', '.join(swept_here)} is both swept and set with --param; drop one of the two."
        )
    fixed.update(params_from_text(pipeline.name, pipeline.annotations, raw_params))
    for name in spec.names:
        fixed.pop(name, None)  # a --params file's value is what the sweep varies
    progress = _Progress(spec.size(), spec.names)
    try:
        result = run_sweep(
            pipeline,
            spec,
            params=fixed,
            from_text=True,
            parallel=sweep_parallel,
            stack=stack,
            experiment=experiment,
            no_cache=no_cache,
            project=project,
            plugins=plugins,
            executor_options=executor_options,
            on_event=progress.heard,
        )
    except KeyboardInterrupt:
        progress.interrupted()
        raise
    _final_table(result, spec.names)
    return 0 if result.ok else 1


def _values(values: Mapping[str, Any], names: Sequence[str]) -> str:
    from flowy_cli.terminal_text import escape_text

    return " ".join(f"{n}={escape_text(_short(values[n]))}" for n in names)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Progress:
    """One line per combination that starts or ends, with the sweep's counts."""

    def __init__(self, total: int, names: Sequence[str]) -> None:
        self.total = total
        self.names = list(names)
        self.states: dict[int, str] = {}
        self.width = len(str(total))
        self.header = f"Sweep of {total} run{'s' if total != 1 else ''} over {', '.join(names)}"

    def _header(self) -> None:
        """Printed with the first event: after every check passed, so never above an error."""
        if self.header:
            self._write(self.header)
            self.header = ""

    def heard(self, run: SweepRun, event: SweepEvent) -> None:
        if event.kind not in ("started", "done"):
            return
        self._header()
        self.states[run.index] = run.status
        counts = {"running": 0, "done": 0, "failed": 0}
        for state in self.states.values():
            if state == "running":
                counts["running"] += 1
            elif state == "completed":
                counts["done"] += 1
            else:
                counts["failed"] += 1
        waiting = self.total - sum(counts.values())
        run_id = f" run {run.run_id[:12]}" if run.run_id else ""
        why = f" ({run.error})" if run.error and event.kind == "done" else ""
        line = (
            f"[{run.index + 1:>{self.width}}/{self.total}] {run.status:<9} "
            f"{_values(run.values, self.names)}{run_id}{why}   "
            f"[{counts['running']} running, {counts['done']} done, {counts['failed']} failed, "
            f"{waiting} waiting]"
        )
        self._write(line)

    def interrupted(self) -> None:
        """Ctrl-C: say what became of each combination (the runs are recorded cancelled)."""
        self._header()
        ended = {i: s for i, s in self.states.items() if s != "running"}
        stopped = [i for i, s in self.states.items() if s == "running"]
        self._write(
            f"Sweep interrupted: {len(ended)} ended, {len(stopped)} cancelled while running, "
            f"{self.total - len(self.states)} not started."
        )

    @staticmethod
    def _write(line: str) -> None:
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            pass


def _final_table(result: SweepResult, names: Sequence[str]) -> None:
    from flowy.run import SWEEP_PARAM

    from flowy_cli.output import console, plain_stdout, styled_status, table
    from flowy_cli.terminal_text import escape_markup

    metrics: list[str] = []
    for run in result.runs:
        metrics.extend(m for m in run.metrics if m not in metrics)
    shown = metrics[:MAX_METRICS]
    t = table("#", *names, "run", "status", *shown)
    for run in result.runs:
        cells = [str(run.index + 1)]
        cells += [escape_markup(_short(run.values[n])) for n in names]
        cells.append(run.run_id or "-")
        cells.append(styled_status(run.status))
        cells += [f"{run.metrics[m]:.6g}" if m in run.metrics else "-" for m in shown]
        t.add_row(*cells)
    out = console()
    out.print()
    out.print(t)
    failed = result.failed
    summary = (
        f"Sweep {result.sweep_id}: {len(result) - len(failed)} of {len(result)} runs completed, "
        f"experiment {escape_markup(result.experiment)}"
    )
    if result.seed is not None:
        summary += f", seed {result.seed}"
    out.print(summary, markup=not plain_stdout())
    for run in failed:
        if run.run_id:
            out.print(f"  #{run.index + 1} {run.status}: see flowy runs show {run.run_id}")
        else:
            out.print(f"  #{run.index + 1} {run.status}: {escape_markup(run.error or '')}")
    markup = not plain_stdout()
    out.print(f"Its runs: flowy runs list -f params.{SWEEP_PARAM}={result.sweep_id}", markup=markup)
    if metrics:
        out.print(
            f"Best run: flowy experiment best {escape_markup(result.experiment)} "
            f"--metric {metrics[0]} (--mode min when lower is better)",
            markup=markup,
        )
