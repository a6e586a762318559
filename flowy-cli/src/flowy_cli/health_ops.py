"""The checks of ``flowy doctor`` on what runs on the stack: plugins, runs, breakers, scheduler.

Same shape as :mod:`flowy_cli.health_checks` (each returns :class:`Check` records).
"""

from __future__ import annotations

import socket
import time
from typing import Any

from flowy_cli.health_checks import FAIL, OK, WARN, Check

#: A running run with no change (its start, a step starting or ending) for this long is
#: stale (``--stale-after``, in hours).
DEFAULT_STALE_HOURS = 24.0
#: A scheduler heartbeat older than this (seconds) means no scheduler is serving.
HEARTBEAT_LIMIT = 120.0


def plugins() -> list[Check]:
    """What ``flowy plugins check`` checks: every plugin loaded, compatible, unclashing."""
    from flowy_cli.plugins import _collect

    rows, clashes = _collect()
    bad = [r for r in rows if r["status"] in ("failed", "incompatible")]
    checks = [
        Check(
            f"plugin {r['name']}", FAIL, f"{r['status']}: {r['error']}",
            f"Reinstall or upgrade {r['distribution']}, or disable it "
            "(FLOWY_DISABLE_PLUGINS); `flowy plugins` shows the details.",
        )
        for r in bad
    ]  # fmt: skip
    checks += [
        Check(
            "plugins", FAIL,
            f"{c['kind']} {c['name']!r} is registered by both {' and '.join(c['distributions'])}",
            "Uninstall one of them, or disable one with FLOWY_DISABLE_PLUGINS.",
        )
        for c in clashes
    ]  # fmt: skip
    if not checks:
        checks.append(Check("plugins", OK, f"{len(rows)} loaded, none failed, no clashes"))
    return checks


def stale_runs(store: Any, stale_after: float, now: float | None = None) -> list[Check]:
    """Runs recorded as ``running`` whose process is gone or that changed nothing for long."""
    from flowy_cli.scheduler_loop import pid_alive

    now = time.time() if now is None else now
    host = socket.gethostname()
    stale: list[str] = []
    running = store.list_runs(status="running", limit=10_000)
    for run in running:
        if run.host == host and run.pid and not pid_alive(run.pid):
            stale.append(f"{run.run_id[:12]} ({run.pipeline}): its process {run.pid} is gone")
            continue
        last = max(
            [run.started_at]
            + [
                t
                for s in store.get_step_runs(run.run_id)
                for t in (s.started_at, s.finished_at)
                if t
            ]
        )
        if now - last > stale_after:
            where = f" on {run.host}" if run.host and run.host != host else ""
            stale.append(
                f"{run.run_id[:12]} ({run.pipeline}){where}: no change for "
                f"{(now - last) / 3600:.1f} h"
            )
    if not stale:
        return [Check("running runs", OK, f"{len(running)} running, none stale")]
    return [
        Check(
            "running runs", FAIL, f"{len(stale)} stale: " + "; ".join(stale[:5])
            + (" ..." if len(stale) > 5 else ""),
            "Cancel them (`flowy runs cancel RUN_ID`), or check the host that runs them; "
            "`flowy runs list --status running` lists them.",
        )
    ]  # fmt: skip


def breakers(store: Any) -> list[Check]:
    """Open and half-open circuit breakers (steps that are not being attempted)."""
    from flowy.kernel.circuits import CircuitBreakers

    if not isinstance(store, CircuitBreakers):
        return [Check("circuit breakers", OK, f"{type(store).__name__} keeps no breakers")]
    states = store.circuit_states()
    tripped = [s for s in states if s.state != "closed"]
    if not tripped:
        return [Check("circuit breakers", OK, f"{len(states)} known, all closed")]
    names = ", ".join(f"{s.pipeline}.{s.step} ({s.state})" for s in tripped[:5])
    return [
        Check(
            "circuit breakers", WARN, f"{len(tripped)} not closed: {names}",
            "Fix what fails, then `flowy circuits reset PIPELINE STEP` (or wait for the "
            "half-open trial); `flowy circuits list` shows them.",
        )
    ]  # fmt: skip


def scheduler(store: Any, now: float | None = None) -> list[Check]:
    """When active schedules exist: is a scheduler heartbeat recent?"""
    from flowy.kernel.schedules import ScheduleStore

    if not isinstance(store, ScheduleStore):
        return []
    active = [s for s in store.list_schedules() if not s.paused]
    if not active:
        return []
    now = time.time() if now is None else now
    beats = store.scheduler_heartbeats()
    fix = (
        "Start `flowy scheduler` (docs/operations.md has a systemd unit); its log says "
        "why it stopped."
    )
    if not beats:
        return [Check("scheduler", WARN, f"{len(active)} active schedule(s), and no scheduler "
                      "is running on this store (none has a heartbeat)", fix)]  # fmt: skip
    age = now - beats[0].heartbeat_at
    if age > HEARTBEAT_LIMIT:
        return [
            Check("scheduler", WARN, f"{len(active)} active schedule(s); the last heartbeat "
                  f"(pid {beats[0].pid} on {beats[0].host}) is {age:.0f} s old", fix)
        ]  # fmt: skip
    return [
        Check("scheduler", OK, f"pid {beats[0].pid} on {beats[0].host}, heartbeat {age:.0f} s "
              f"ago, {len(active)} active schedule(s)")
    ]  # fmt: skip
