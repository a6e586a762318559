"""``flowy schedule add|list|pause|resume|remove``: what ``flowy scheduler`` runs, and when."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from flowy_cli.common import json_option, split_assignments, stack_option, store_client

_stack = stack_option(
    "The stack whose store keeps the schedules (and, for `add`, the one its runs use)."
)


@click.group("schedule")
def schedule() -> None:
    """Run pipelines on a cron schedule (`flowy scheduler` starts them).

    \b
      flowy schedule add nightly train.py --cron "0 3 * * *" --param epochs=5
      flowy schedule list
      flowy scheduler            # the long-running process that starts due runs
    """


@schedule.command("add")
@click.argument("name")
@click.argument("pipeline_file", metavar="FILE.py[:PIPELINE]")
@click.option(
    "--cron",
    required=True,
    help='When: five cron fields ("0 3 * * *" is 03:00 daily) or six, the sixth for '
    'seconds ("* * * * * */10" is every ten seconds).',
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter of every run, as `flowy run --param` takes it (repeat for several).",
)
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone the cron is read in.")
@click.option(
    "--allow-overlap",
    is_flag=True,
    help="Start a due run even while the previous run of this schedule is still going.",
)
@click.option(
    "--catchup",
    type=click.Choice(["latest", "all", "none"]),
    default="latest",
    show_default=True,
    help="Due times missed while no scheduler ran: run the most recent one, each, or none.",
)
@_stack
def add(  # noqa: PLR0917 - click passes options as arguments
    name: str,
    pipeline_file: str,
    cron: str,
    params: tuple[str, ...],
    timezone: str,
    allow_overlap: bool,
    catchup: str,
    stack: str | None,
) -> None:
    """Add schedule NAME that runs FILE.py[:PIPELINE] on a cron expression.

    The file is loaded now to check it holds the pipeline and that every
    --param names one of its parameters with a value of the right type.
    """
    from flowy.kernel.config import project_for_file
    from flowy.kernel.schedules import Schedule, check_schedule_name, schedules_of

    from flowy_cli import cron as cron_
    from flowy_cli.output import console
    from flowy_cli.schedule_plan import iso

    check_schedule_name(name)
    cron_.check(cron, timezone)
    raw = split_assignments(params, "--param")
    target = _checked_target(pipeline_file, raw)
    workdir = project_for_file(_file_of(target))
    with store_client(stack) as client:
        store = schedules_of(client.store)
        now = time.time()
        store.add_schedule(
            Schedule(
                name=name,
                pipeline=target,
                cron=cron,
                timezone=timezone,
                params=raw,
                stack=client.stack_name,
                workdir=str(workdir) if workdir is not None else str(Path.cwd()),
                allow_overlap=allow_overlap,
                catchup=catchup,
                created_at=now,
            )
        )
        due = iso(cron_.next_after(cron, timezone, now))
    console().print(
        f"Added schedule {name!r}: {target} at {cron!r} ({timezone}) on stack "
        f"{client.stack_name!r}; next due {due}. Start `flowy scheduler` to run it.",
        markup=False,
        highlight=False,
    )


def _file_of(target: str) -> Path:
    from flowy.run import split_spec

    return split_spec(target)[0]


def _checked_target(spec: str, raw: dict[str, str]) -> str:
    """``spec`` with an absolute file path, after loading it and checking ``raw``."""
    from flowy.kernel.errors import FlowyError
    from flowy.run import load_pipeline, params_from_text, split_spec

    path, name = split_spec(spec)
    if not path.is_file():
        raise FlowyError(
            f"Pipeline file {str(path)!r} does not exist (or is not a file). Give the path "
            "of a .py file that defines the pipeline, as `flowy run` takes it."
        )
    target = str(path.resolve()) + (f":{name}" if name else "")
    pipeline = load_pipeline(target)
    values = params_from_text(pipeline.name, pipeline.annotations, raw)
    pipeline.check_params(pipeline.context_for(values))
    return target


@schedule.command("list")
@_stack
@json_option
def list_(stack: str | None, as_json: bool) -> None:
    """List schedules: cron, next due time, last run and its status, paused or not."""
    from flowy.kernel.schedules import schedules_of

    from flowy_cli.output import console, fmt_time, print_json, styled_status, table
    from flowy_cli.terminal_text import escape_markup as escape

    with store_client(stack) as client:
        store = schedules_of(client.store)
        rows = [_describe(store, s) for s in store.list_schedules()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No schedules. Add one with `flowy schedule add NAME FILE.py --cron ...`.")
        return
    out = table("name", "pipeline", "cron", "next due", "last run", "status", "state")
    for r in rows:
        last = r["last"] or {}
        out.add_row(
            escape(r["name"]),
            escape(r["pipeline"]),
            escape(f"{r['cron']} ({r['timezone']})"),
            "-" if r["paused"] else fmt_time(r["next_due_at"]),
            escape(last.get("run_id") or "-")[:12],
            styled_status(last["run_status"]) if last.get("run_status") else
            escape(last.get("status") or "-"),
            "paused" if r["paused"] else "active",
        )  # fmt: skip
    console().print(out)


def _describe(store: Any, s: Any) -> dict[str, Any]:
    """A schedule as ``list --json`` shows it: its fields, next due time and last due time."""
    import attrs

    from flowy_cli import cron as cron_

    row = attrs.asdict(s)
    after = max(time.time(), s.last_fire_at or 0.0)
    row["next_due_at"] = None if s.paused else cron_.next_after(s.cron, s.timezone, after)
    fires = store.schedule_fires(s.name, limit=1)
    last = attrs.asdict(fires[0]) if fires else None
    if last is not None:
        last["run_status"] = None
        if not last["run_id"] and last["pid"] and last["host"]:  # the scheduler has not looked yet
            found = store.run_of_process(last["pid"], last["host"], last["claimed_at"] - 1.0)
            last["run_id"] = found[0] if found else None
        if last["run_id"]:
            try:
                last["run_status"] = store.get_run(last["run_id"]).status
            except Exception:  # noqa: BLE001 - the run was deleted since
                last["run_status"] = "deleted"
    row["last"] = last
    return row


@schedule.command("pause")
@click.argument("name")
@_stack
def pause(name: str, stack: str | None) -> None:
    """Stop starting runs of schedule NAME until `resume` (runs going keep running)."""
    _set_paused(name, True, stack)


@schedule.command("resume")
@click.argument("name")
@_stack
def resume(name: str, stack: str | None) -> None:
    """Start runs of schedule NAME again; the due times it spent paused are not caught up."""
    _set_paused(name, False, stack)


def _set_paused(name: str, paused: bool, stack: str | None) -> None:
    from flowy.kernel.schedules import schedules_of

    from flowy_cli.output import console

    with store_client(stack) as client:
        schedules_of(client.store).set_schedule_paused(name, paused, now=time.time())
    console().print(f"Schedule {name!r} {'paused' if paused else 'resumed'}.", markup=False)


@schedule.command("remove")
@click.argument("name")
@_stack
def remove(name: str, stack: str | None) -> None:
    """Delete schedule NAME and its record of due times (its runs stay)."""
    from flowy.kernel.schedules import schedules_of

    from flowy_cli.output import console

    with store_client(stack) as client:
        fires = schedules_of(client.store).remove_schedule(name)
    console().print(
        f"Removed schedule {name!r} ({fires} recorded due time(s)); its runs stay.", markup=False
    )
