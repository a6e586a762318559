"""``flowy doctor``: check the stack's health; rebuild a lost index from sidecars.

The checks live in :mod:`flowy_cli.health_checks` (the stores) and
:mod:`flowy_cli.health_ops` (plugins, runs, breakers, scheduler); the report and
its exit code in :mod:`flowy_cli.health_report`.
"""

from __future__ import annotations

import click

from flowy_cli.common import json_option, stack_option, store_client
from flowy_cli.health_checks import DEFAULT_MIN_FREE
from flowy_cli.health_ops import DEFAULT_STALE_HOURS


@click.command("doctor")
@click.option(
    "--rebuild-index",
    is_flag=True,
    help="Restore the runs, steps and artifacts the metadata store lacks from the sidecar "
    "file written beside every artifact (after the database was lost or emptied).",
)
@click.option(
    "--stale-after",
    type=click.FloatRange(min=0),
    default=DEFAULT_STALE_HOURS,
    show_default=True,
    metavar="HOURS",
    help="A running run with no change for this long is reported as stale.",
)
@click.option(
    "--min-free",
    type=click.FloatRange(min=0),
    default=DEFAULT_MIN_FREE / (1 << 30),
    show_default=True,
    metavar="GiB",
    help="Warn when the store's or the artifacts' file system has less free space.",
)
@stack_option("Check this stack instead of the active one.")
@json_option
def doctor(
    rebuild_index: bool, stale_after: float, min_free: float, stack: str | None, as_json: bool
) -> None:
    """Check the stack's health: stores, schema, disk, plugins, runs, breakers, scheduler.

    \b
    Each check is ok, warn or fail, with what to do about it:
      metadata store   reachable and answering a query
      schema           the database at the revision this Flowy uses
      artifact store   a probe object written, read back and deleted
      disk             free space where the database and the artifacts are
      index            the stores agree (no lost history, no missing file)
      plugins          every plugin loaded and compatible, no name clash
      running runs     none whose process is gone or that changed nothing for long
      breakers         circuit breakers left open
      scheduler        a recent heartbeat, when schedules are active

    Exits 1 when a check fails; warnings alone exit 0. With --rebuild-index,
    restores every run the database does not know from the artifacts'
    sidecars: its pipeline, steps, artifacts (each verified against its
    checksum) and the lineage between them, with status `recovered`.
    Parameters, metrics, logs and cache entries are not in sidecars.
    """
    if rebuild_index:
        _rebuild(stack, as_json)
        return
    from flowy_cli.health_report import report, run_checks

    checks = run_checks(stack, stale_after=stale_after * 3600, min_free=int(min_free * (1 << 30)))
    if report(checks, as_json):
        click.get_current_context().exit(1)


def _rebuild(stack: str | None, as_json: bool) -> None:
    """``--rebuild-index``: restore runs from the sidecars beside the artifacts."""
    from flowy.artifacts import rebuild_index as rebuild
    from rich.markup import escape

    from flowy_cli.output import console, err_console, print_json

    with (
        store_client(stack, check_index=False) as client,
        err_console().status("Reading sidecars…"),
    ):
        report = rebuild(client.store, client.artifact_store)
    if as_json:
        import attrs

        print_json(attrs.asdict(report))
        return
    out = console()
    out.print(
        f"Restored {len(report.runs)} run(s), {report.steps} step run(s) and "
        f"{report.artifacts} artifact(s) from sidecars."
    )
    for line in report.skipped:
        out.print(f"[yellow]not restored:[/] {escape(line)}", highlight=False)
