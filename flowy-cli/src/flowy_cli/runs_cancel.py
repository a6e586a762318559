"""``flowy runs cancel RUN``: ask the process running a run to cancel it.

Registered on the ``runs`` group in :mod:`flowy_cli.runs`. The request is a
row in the metadata store (``MetadataStore.request_cancel``); the run's
orchestrating process, wherever it runs, checks for one about twice a second
and ends the run as Ctrl-C would: ``cancelled``, its running steps recorded
as cancelled. So this works for runs started on other machines that share
the store, and needs no signal or pid.
"""

from __future__ import annotations

import getpass
import time

import click

from flowy_cli.common import json_option, stack_option, store_client


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@click.option("--wait", is_flag=True, help="Wait until the run has stopped and print how it ended.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="With --wait: give up after this many seconds (exit 3).",
)
@stack_option("Use this stack's metadata store instead of the active one.")
@json_option
def cancel(run_id: str, wait: bool, timeout: float, stack: str | None, as_json: bool) -> None:
    """Cancel a running run: its process stops it as Ctrl-C would.

    RUN is a run id or a unique prefix of one (4+ characters). Exits 1 when
    the run is unknown or not running, 3 when --wait timed out. Asking twice
    is fine: the first request stands.
    """
    from flowy.kernel.records import RUNNING

    from flowy_cli.output import console, print_json

    with store_client(stack) as client:
        run = client.run(run_id)  # RunNotFoundError for an unknown id, as everywhere
        store = client.store
        asked = store.request_cancel(run.run_id, f"{getpass.getuser()} (flowy runs cancel)")
        status = run.status
        if wait:
            deadline = time.monotonic() + timeout
            while (status := store.get_run(run.run_id).status) == RUNNING:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    if as_json:
        print_json({"run_id": run.run_id, "requested": asked, "status": status})
    else:
        out = console()
        what = "Asked" if asked else "Already asked"
        out.print(f"{what} run {run.run_id} to cancel.", markup=False, highlight=False)
        if wait:
            out.print(f"Run {run.run_id} is {status}.", markup=False, highlight=False)
    if wait and status == RUNNING:
        raise click.exceptions.Exit(3)
