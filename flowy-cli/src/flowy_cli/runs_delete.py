"""``flowy runs delete RUN...``: delete runs and their artifacts, crash-safe.

Registered on the ``runs`` group in :mod:`flowy_cli.runs`. The order (rows in
one transaction, then files) and what a kill in between leaves are explained
in :mod:`flowy.tracking.deletion`.
"""

from __future__ import annotations

import click

from flowy_cli.common import json_option, stack_option, store_client


@click.command("delete")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even when other runs, registered model versions or cache entries use "
    "these runs' artifacts (those uses are deleted too).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@stack_option("Use this stack's stores instead of the active one.")
@json_option
def delete(
    run_ids: tuple[str, ...], force: bool, yes: bool, stack: str | None, as_json: bool
) -> None:
    """Delete runs: their records, their artifacts' files and their cache entries.

    RUN is a run id or a unique prefix of one (4+ characters). Nothing is
    deleted when another run consumed or re-used (cache hit) one of their
    artifacts, a model version is registered from them, or a run of the same
    pipeline is running (it may be about to re-use them), unless --force.
    Running runs are never deleted. If the command is killed, every artifact
    keeps its record and its file, or the record is gone and `flowy gc`
    removes the file.
    """
    from flowy.tracking import delete_runs
    from rich.markup import escape

    from flowy_cli.gc import fmt_size
    from flowy_cli.output import console, print_json

    with store_client(stack) as client:
        store = client.store
        ids = [client.run(r).run_id for r in run_ids]  # unknown ids fail before anything
        if not yes:
            preview = store.delete_runs(ids, force=force, dry_run=True)
            size = sum(a.size for a in preview.artifacts)
            click.confirm(
                f"Delete {len(ids)} run(s) and {len(preview.artifacts)} artifact(s) "
                f"({fmt_size(size)}) from stack {client.stack_name!r}?",
                abort=True,
            )
        result = delete_runs(store, client.artifact_store, ids, force=force)
    size = sum(a.size for a in result.artifacts)
    if as_json:
        print_json(
            {
                "runs": result.run_ids,
                "artifacts": len(result.artifacts),
                "bytes": size,
                "uses_dropped": [u.describe() for u in result.uses_dropped],
            }
        )
        return
    out = console()
    for use in result.uses_dropped:
        out.print(f"[yellow]dropped:[/] {escape(use.describe())}", highlight=False)
    out.print(
        f"Deleted {len(result.run_ids)} run(s) and {len(result.artifacts)} artifact(s) "
        f"({fmt_size(size)}).",
        highlight=False,
    )
