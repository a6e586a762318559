"""The scheduler's tick: heartbeat, watch the runs it started, claim and start due times.

One :class:`Scheduler` serves the schedules of one metadata store. Each tick:

1. writes its heartbeat (``scheduler_heartbeats``);
2. watches the due times that are ``claimed`` or ``started`` (its own and those a
   previous scheduler left): fills in the run id once the ``flowy run`` process has
   recorded its run, reports a run that ended, marks ``failed`` a process that ended
   without recording a run and a claim whose scheduler died before starting it;
3. for each schedule not paused, lists the due times after its ``last_fire_at``,
   lets :func:`flowy_cli.schedule_plan.plan` apply the catch-up policy and the
   overlap rule, CLAIMS the chosen times in one transaction
   (:meth:`~flowy.kernel.schedules.ScheduleStore.claim_fires`) and starts a
   ``flowy run`` process only for a time this scheduler claimed;
4. evaluates the freshness alert rules (:func:`flowy.alerts.evaluate_freshness`).

A run is an ordinary ``flowy run`` process in its own session (a Ctrl-C or a
SIGTERM meant for the scheduler does not reach it), its output appended to a log
file. The run records its own pid and host, which is how its run id is found.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import attrs
from flowy.kernel.schedules import (
    CATCHUP_ALL,
    CLAIMED,
    FAILED,
    FINISHED,
    SKIPPED,
    STARTED,
    Schedule,
    ScheduleFire,
    SchedulerHeartbeat,
    ScheduleStore,
)

from flowy_cli import cron
from flowy_cli.schedule_plan import iso, plan

#: A due time claimed or started by a process on another host, with no run recorded
#: after this long, no longer counts as running (that host's pids mean nothing here).
FOREIGN_PATIENCE = 3600.0
#: How far back the open due times are read each tick.
OPEN_LIMIT = 1000


@attrs.define
class Child:
    """A ``flowy run`` process this scheduler started."""

    fire: ScheduleFire
    process: subprocess.Popen[bytes]
    log: IO[bytes]


def pid_alive(pid: int | None) -> bool:
    """Whether ``pid`` is a live process on this host (a zombie counts as gone)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: kill(0) is all we know
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def flowy_command() -> list[str]:
    """How to start ``flowy``: the script beside this interpreter, else ``python -m``."""
    import sys

    script = Path(sys.executable).with_name("flowy")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "flowy_cli.main"]


class Scheduler:
    """Start the due runs of every schedule in ``store`` (see the module docstring)."""

    def __init__(
        self,
        store: ScheduleStore,
        *,
        log_dir: Path,
        say: Callable[[str], None],
        evaluate: Callable[[Any, float], Any] | None = None,
    ) -> None:
        self.store = store
        self.log_dir = log_dir
        self.say = say
        self.evaluate = evaluate
        self.scheduler_id = uuid.uuid4().hex
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.started_at = time.time()
        self.children: dict[tuple[str, float], Child] = {}
        self.started = 0
        self.accepting = True

    # -- one tick ------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.store.beat(
            SchedulerHeartbeat(self.scheduler_id, self.host, self.pid, self.started_at, now)
        )
        running = self.watch(now)
        if self.accepting:
            for schedule in self.store.list_schedules():
                if schedule.paused:
                    continue
                try:
                    self._serve(schedule, now, schedule.name in running)
                except Exception as exc:  # noqa: BLE001 - one bad schedule must not stop the rest
                    self.say(f"error in schedule {schedule.name}: {type(exc).__name__}: {exc}")
        if self.evaluate is not None:
            for change in self.evaluate(self.store, now) or ():
                alert = change.alert
                self.say(f"alert {change.event}: {alert.rule} ({alert.subject}): {alert.message}")

    def stop(self) -> None:
        """Remove the heartbeat (a clean stop); running runs are left running."""
        self.store.end_heartbeat(self.scheduler_id)
        for child in self.children.values():
            child.log.close()

    # -- watching what was started ------------------------------------------

    def watch(self, now: float) -> set[str]:
        """Update the open due times; return the schedules with a run still going."""
        running: set[str] = set()
        for fire in self.store.schedule_fires(statuses=(CLAIMED, STARTED), limit=OPEN_LIMIT):
            if self._still_running(fire, now):
                running.add(fire.schedule)
        return running

    def _still_running(self, fire: ScheduleFire, now: float) -> bool:
        key = (fire.schedule, fire.fire_at)
        child = self.children.get(key)
        if fire.status == CLAIMED and child is not None:
            # Started, but writing so failed (a busy store): write it now, then watch it.
            self.store.update_fire(
                fire.schedule, fire.fire_at, status=STARTED, pid=child.process.pid,
                log=child.fire.log,
            )  # fmt: skip
            fire = child.fire
        if fire.status == CLAIMED:
            if fire.host == self.host and fire.pid == self.pid:
                return True  # being started by this very process
            if fire.host == self.host and not pid_alive(fire.pid):
                self._fail(fire, f"the scheduler (pid {fire.pid}) stopped between claiming "
                           "this due time and starting its run")  # fmt: skip
                return False
            return fire.host == self.host or now - fire.claimed_at < FOREIGN_PATIENCE
        found = fire.run_id
        if found is None and fire.pid is not None and fire.host is not None:
            hit = self.store.run_of_process(fire.pid, fire.host, fire.claimed_at - 1.0)
            if hit is not None:
                found = hit[0]
                self.store.update_fire(fire.schedule, fire.fire_at, run_id=found)
        if child is not None:
            code = child.process.poll()
            if code is None:
                return True
            child.log.close()
            del self.children[key]
            self._ended(fire, found, code)
            return False
        if fire.host == self.host:
            ended = found is not None and self._run_status(found) not in ("running", None)
            if pid_alive(fire.pid) and not ended:  # a recorded end outranks a reused pid
                return True
            if found is None:
                self._fail(fire, "its flowy run process ended before recording a run"
                           + (f"; see {fire.log}" if fire.log else ""))  # fmt: skip
            else:
                self._mark_done(fire, found)
            return False
        if found is not None:  # another host's run: its record says
            return self._run_status(found) == "running"
        return now - fire.claimed_at < FOREIGN_PATIENCE

    def _ended(self, fire: ScheduleFire, run_id: str | None, code: int) -> None:
        due = iso(fire.fire_at)
        if run_id is None:
            self._fail(fire, f"flowy run exited with status {code} before recording a run; "
                       f"see {fire.log}")  # fmt: skip
            return
        self._mark_done(fire, run_id)
        status = self._run_status(run_id) or "unknown"
        self.say(f"finished {fire.schedule} (due {due}): run {run_id} {status} (exit {code})")

    def _mark_done(self, fire: ScheduleFire, run_id: str) -> None:
        """The due time's process is gone: ``finished``, its run says how it went."""
        self.store.update_fire(fire.schedule, fire.fire_at, status=FINISHED, run_id=run_id)

    def _run_status(self, run_id: str) -> str | None:
        try:
            return self.store.get_run(run_id).status  # type: ignore[attr-defined,no-any-return]
        except Exception:  # noqa: BLE001 - a deleted run: nothing to report
            return None

    def _fail(self, fire: ScheduleFire, reason: str) -> None:
        self.store.update_fire(fire.schedule, fire.fire_at, status=FAILED, reason=reason, pid=None)
        self.say(f"failed {fire.schedule} (due {iso(fire.fire_at)}): {reason}")

    # -- starting due runs ---------------------------------------------------

    def _serve(self, schedule: Schedule, now: float, running: bool) -> None:
        after = schedule.last_fire_at if schedule.last_fire_at is not None else schedule.created_at
        pending = cron.due_between(schedule.cron, schedule.timezone, after, now)
        if len(pending) >= cron.MAX_LISTED and schedule.catchup != CATCHUP_ALL:
            # A long downtime: the list stops at the oldest MAX_LISTED; the newest must be in
            # it for latest/none (the ones between are left without a row).
            newest = cron.newest_until(schedule.cron, schedule.timezone, now)
            if newest > pending[-1]:
                pending.append(newest)
        decided = plan(
            pending,
            schedule.catchup,
            scheduler_started_at=self.started_at,
            running=running,
            allow_overlap=schedule.allow_overlap,
        )
        fires = [
            ScheduleFire(schedule.name, t, SKIPPED, claimed_at=now, reason=why)
            for t, why in decided.skip
        ] + [
            ScheduleFire(schedule.name, t, CLAIMED, claimed_at=now, pid=self.pid, host=self.host)
            for t in decided.start
        ]
        fires.sort(key=lambda f: f.fire_at)
        for fire in self.store.claim_fires(schedule.name, fires):
            if fire.status == SKIPPED:
                self.say(f"skipped {schedule.name} (due {iso(fire.fire_at)}): {fire.reason}")
            else:
                self._start(schedule, fire)

    def _start(self, schedule: Schedule, fire: ScheduleFire) -> None:
        stamp = iso(fire.fire_at).replace(":", "").replace("-", "")
        log_path = self.log_dir / schedule.name / f"{stamp}.log"
        argv = [*flowy_command(), "run", schedule.pipeline]
        for key, value in schedule.params.items():
            argv += ["--param", f"{key}={value}"]
        if schedule.stack:
            argv += ["--stack", schedule.stack]
        env = dict(os.environ, FLOWY_SCHEDULE=schedule.name, FLOWY_SCHEDULED_AT=iso(fire.fire_at))
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = log_path.open("ab")
            process = subprocess.Popen(
                argv,
                cwd=schedule.workdir or None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            self._fail(fire, f"could not start flowy run: {exc}")
            return
        fire.status, fire.pid, fire.log = STARTED, process.pid, str(log_path)
        self.children[(schedule.name, fire.fire_at)] = Child(fire, process, log)
        self.started += 1
        self.store.update_fire(
            schedule.name, fire.fire_at, status=STARTED, pid=process.pid, log=str(log_path)
        )
        self.say(
            f"started {schedule.name} (due {iso(fire.fire_at)}): flowy run pid {process.pid}, "
            f"log {log_path}"
        )
