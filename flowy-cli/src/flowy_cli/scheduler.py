"""``flowy scheduler``: the long-running process that starts the runs schedules make due."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType

import click

from flowy_cli.common import stack_option, store_client


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run one tick, wait for the runs it started, exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05, max=3600),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between ticks (keep it under the shortest schedule's interval).",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop starting runs after N, wait for them to end, and exit (examples, tests).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where each run's output goes, LOG_DIR/SCHEDULE/DUE-TIME.log "
    "(default: FLOWY_HOME/scheduler/logs).",
)
@stack_option("Serve the schedules kept in this stack's store instead of the active one's.")
def scheduler(
    once: bool, poll: float, max_runs: int | None, log_dir: Path | None, stack: str | None
) -> None:
    """Start the runs of every schedule when they come due, until stopped.

    \b
    Each tick (every --poll seconds) writes a heartbeat, claims the due times of
    each schedule in the store (a due time is claimed once, so a restarted or a
    second scheduler never starts it again) and starts each as a `flowy run`
    process with the schedule's parameters and stack, its output in a log file.
    A schedule never overlaps itself unless added with --allow-overlap: a due time
    that comes while its previous run is going is recorded as skipped. Due times
    missed while no scheduler ran are caught up by the schedule's --catchup policy.

    \b
    SIGTERM or Ctrl-C stops the scheduler after the current tick; runs already
    started keep running (a restarted scheduler watches them and will not overlap
    them). Run it under systemd (docs/operations.md has a unit file) or any
    supervisor; `flowy doctor` warns when its heartbeat is old.
    """
    from flowy.alerts import evaluate_freshness
    from flowy.kernel.config import user_home
    from flowy.kernel.schedules import schedules_of

    from flowy_cli.common import plugin_manager
    from flowy_cli.output import console
    from flowy_cli.schedule_plan import iso
    from flowy_cli.scheduler_loop import Scheduler

    out = console()

    def say(line: str) -> None:
        out.print(f"{iso(time.time())} {line}", markup=False, highlight=False, soft_wrap=True)

    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name} received: stopping after this tick.")
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    client = store_client(stack)
    try:
        store = schedules_of(client.store)
        loop = Scheduler(
            store,
            log_dir=log_dir or user_home() / "scheduler" / "logs",
            say=say,
            evaluate=lambda s, now: evaluate_freshness(s, now, plugins=plugin_manager()),
        )
        count = len(store.list_schedules())
        say(
            f"scheduler {loop.scheduler_id[:12]} (pid {loop.pid}) serving {count} schedule(s); "
            f"ticking every {poll:g}s."
        )
        try:
            _loop(loop, once=once, poll=poll, max_runs=max_runs, stopping=stopping)
        finally:
            still = len(loop.children)
            loop.stop()
            tail = f"; {still} run(s) still running keep running" if still else ""
            say(f"scheduler stopped{tail}.")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        client.close()


def _loop(
    loop: object, *, once: bool, poll: float, max_runs: int | None, stopping: threading.Event
) -> None:
    """Tick until stopped; ``--once``/``--max-runs`` wait for their runs, then return."""
    from flowy_cli.scheduler_loop import Scheduler

    assert isinstance(loop, Scheduler)
    while not stopping.is_set():
        try:
            loop.tick()
        except Exception as exc:  # a store busy or away for a while: tick again
            if once:
                raise
            loop.say(f"tick failed, retrying in {poll:g}s: {type(exc).__name__}: {exc}")
        if max_runs is not None and loop.started >= max_runs:
            loop.accepting = False
        if once or not loop.accepting:
            break
        stopping.wait(poll)
    while (once or not loop.accepting) and loop.children and not stopping.is_set():
        stopping.wait(min(poll, 0.5))
        loop.watch(time.time())
