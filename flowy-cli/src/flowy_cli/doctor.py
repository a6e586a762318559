"""``flowy doctor``: check the stack's stores agree; rebuild a lost index from sidecars."""

from __future__ import annotations

import click

from flowy_cli.common import json_option, stack_option, store_client


@click.command("doctor")
@click.option(
    "--rebuild-index",
    is_flag=True,
    help="Restore the runs, steps and artifacts the metadata store lacks from the sidecar "
    "file written beside every artifact (after the database was lost or emptied).",
)
@stack_option("Check this stack instead of the active one.")
@json_option
def doctor(rebuild_index: bool, stack: str | None, as_json: bool) -> None:
    """Check that the metadata store and the artifact store agree.

    \b
    Reports recorded artifacts whose file is missing, temporary and
    unreferenced files (`flowy gc` removes those), and whether the metadata
    database lost its history while artifacts remain. With --rebuild-index,
    restores every run the database does not know from the artifacts'
    sidecars: its pipeline, steps, artifacts (each verified against its
    checksum) and the lineage between them, with status `recovered`.
    Parameters, metrics, logs and cache entries are not in sidecars.
    """
    from flowy.artifacts import check_index
    from flowy.kernel.errors import FlowyError
    from rich.markup import escape

    from flowy_cli.output import console, err_console, print_json

    with store_client(stack, check_index=False) as client:
        store, artifacts = client.store, client.artifact_store
        if rebuild_index:
            from flowy.artifacts import rebuild_index as rebuild

            with err_console().status("Reading sidecars…"):
                report = rebuild(store, artifacts)
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
            return
        problems: list[str] = []
        try:
            check_index(store, artifacts)
        except FlowyError as exc:
            problems.append(str(exc))
        recorded = store.artifact_uris()
        try:
            listed = {o.uri for o in artifacts.list_objects()}
        except NotImplementedError as exc:
            listed = None
            problems.append(f"{exc}.")
        if listed is not None:
            missing = sorted(u for u in recorded if u not in listed)
            if missing:
                problems.append(
                    f"{len(missing)} recorded artifact file(s) are missing from the artifact "
                    f"store (first: {missing[0]}). If the store moved, point the stack at it."
                )
        if as_json:
            print_json({"ok": not problems, "problems": problems, "artifacts": len(recorded)})
        else:
            out = console()
            for problem in problems:
                out.print(f"[red]✗[/] {escape(problem)}", highlight=False)
            if not problems:
                out.print(f"[green]✓[/] {len(recorded)} recorded artifact(s), all present.")
            out.print("[dim]Temporary and unreferenced files: see `flowy gc --dry-run`.[/]")
        if problems:
            click.get_current_context().exit(1)
