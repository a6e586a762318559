"""``flowy gc``: reclaim disk from killed runs, deleted runs and expired runs.

What goes and what never goes is decided in :mod:`flowy.tracking.housekeeping`; this
module only parses options, reads the retention settings and prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flowy_cli.common import json_option, stack_option, store_client

if TYPE_CHECKING:
    from flowy.tracking import GcReport


def fmt_size(size: int) -> str:
    """``1.5 MB`` style (decimal units, as ``du -h --si`` and file managers print)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover


@click.command("gc")
@click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Only report what would be deleted and how much space it holds; delete nothing.",
)
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep the N newest runs of each pipeline; delete older ones "
    "(overrides the keep_last_runs setting).",
)
@click.option(
    "--keep-days",
    type=click.FloatRange(min=0),
    metavar="D",
    help="Keep runs started within D days; delete older ones (overrides the keep_days setting).",
)
@stack_option("Collect this stack instead of the active one.")
@json_option
def gc(
    dry_run: bool,
    keep_last: int | None,
    keep_days: float | None,
    stack: str | None,
    as_json: bool,
) -> None:
    """Delete what no recorded run needs: temporary files and unreferenced artifacts.

    \b
    Removed:
      * temporary files of writes a killed run left behind;
      * artifact files (and their sidecars) that no run records: outputs of
        runs killed before they recorded them, files of deleted runs;
      * with a retention rule (--keep-last/--keep-days, or the keep_last_runs /
        keep_days settings), the runs it expires, as `flowy runs delete` would.
    Cache limits (`flowy cache limits`) are applied first: entries past their ttl
    or over their pipeline's size budget are evicted, and the artifacts only they
    held go. Files a live entry of the stack's shared cache index names are kept.
    Never removed: anything a recorded artifact needs, anything of a run still
    running, a registered model's run, a run whose artifacts a kept run uses,
    and files that are not Flowy's (listed, left alone). Expired runs of a
    pipeline with a run in progress wait for the next collection.
    """
    from flowy.kernel.config import load_settings
    from flowy.tracking import Retention
    from flowy.tracking import collect_garbage as collect

    from flowy_cli.output import err_console

    with store_client(stack) as client:
        retention = Retention.from_settings(load_settings(client.project), keep_last, keep_days)
        store, artifacts = client.store, client.artifact_store
        keep: set[str] = set()
        for index in client.cache_indexes():  # the cache limits first: evicted entries hold nothing
            if not dry_run:
                index.evict()
            keep |= index.live_uris()
        if as_json:
            report = collect(store, artifacts, retention, dry_run=dry_run, keep=keep)
        else:
            with err_console().status("Collecting garbage…" if not dry_run else "Looking…"):
                report = collect(store, artifacts, retention, dry_run=dry_run, keep=keep)
    if as_json:
        from flowy_cli.output import print_json

        print_json(_to_json(report))
        return
    _print(report)


def _to_json(report: GcReport) -> dict[str, Any]:
    import attrs

    return {
        "dry_run": report.dry_run,
        "retention": report.retention,
        "freed_bytes": report.freed,
        "by_kind": {k: {"count": n, "bytes": b} for k, (n, b) in report.by_kind().items()},
        "expired_runs": [attrs.asdict(r) for r in report.expired],
        "files": [attrs.asdict(f) for f in report.files],
        "left_alone": report.left_alone,
    }


def _print(report: GcReport) -> None:
    from rich.markup import escape

    from flowy_cli.output import console, fmt_time, print_table

    out = console()
    verb = "Would delete" if report.dry_run else "Deleted"
    kinds = report.by_kind()
    if kinds:
        print_table(
            ("what", "count", "size"),
            ((escape(kind), str(n), fmt_size(b)) for kind, (n, b) in kinds.items()),
            empty="",
        )
    kept = [r for r in report.expired if r.kept_because is not None]
    if kept:
        out.print(f"Kept {len(kept)} expired run(s) that something still uses:")
        print_table(
            ("run", "pipeline", "started", "kept because"),
            (
                (
                    r.run_id[:12],
                    escape(r.pipeline),
                    fmt_time(r.started_at),
                    escape(r.kept_because or ""),
                )
                for r in kept
            ),
            empty="",
        )
    if report.left_alone:
        out.print(
            f"[yellow]Left alone {len(report.left_alone)} file(s) that are not recognisably "
            "Flowy's or belong to a run with missing files (see `flowy doctor`):[/]"
        )
        for uri in report.left_alone[:10]:
            out.print(f"  {escape(uri)}")
        if len(report.left_alone) > 10:
            out.print(f"  … and {len(report.left_alone) - 10} more")
    if not kinds:
        out.print(f"Nothing to delete ({escape(report.retention)}).")
        return
    out.print(f"{verb} {fmt_size(report.freed)} in all ({escape(report.retention)}).")
    if report.dry_run:
        out.print("[dim]Nothing was deleted: run `flowy gc` without --dry-run to delete it.[/]")
