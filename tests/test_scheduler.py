"""``flowy schedule`` and ``flowy scheduler``: real scheduler processes on a real store.

Every assertion reads the store (``schedule_fires`` and ``runs``), never the clock:
the tests wait for conditions (a number of runs finished, a number of due times
skipped) with generous timeouts, and then check what was recorded.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.schedules import FINISHED, SKIPPED
from flowy_cli.schedule_plan import plan
from flowy_store_sqlite.metadata import SQLMetadataStore

pytestmark = pytest.mark.slow

WAIT = 240.0

QUICK = """
from flowy import Pipeline, step


@step
def hello(n: int = 1) -> int:
    return n * 2


pipeline = Pipeline("quick", [hello])
"""

# A step that holds its run open until the test creates the gate file: overlap without
# a single timing assumption.
GATED = """
import os
import time

from flowy import Pipeline, step


@step
def wait_for_gate(gate: str = "") -> str:
    deadline = time.time() + 300
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.05)
    return gate


pipeline = Pipeline("gated", [wait_for_gate])
"""


@pytest.fixture
def proj(
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    flowy_command: list[str],
) -> Iterator[Any]:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "quick.py").write_text(QUICK)
    (project / "gated.py").write_text(GATED)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project))
    started: list[subprocess.Popen[bytes]] = []

    class Project:
        root = project
        flowy = staticmethod(flowy_runner(project, env, timeout=300))

        @staticmethod
        def scheduler(*args: str, name: str = "scheduler") -> subprocess.Popen[bytes]:
            out = (tmp_path / f"{name}-{len(started)}.out").open("wb")
            proc = subprocess.Popen(
                [*flowy_command, "scheduler", "--poll", "0.2", *args],
                cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            proc.out_path = out.name  # type: ignore[attr-defined]
            started.append(proc)
            return proc

        @staticmethod
        def store() -> SQLMetadataStore:
            return SQLMetadataStore(f"sqlite:///{project / '.flowy' / 'metadata.db'}")

    try:
        yield Project
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        _wait_children_gone(project)


def _fires(p: Any, name: str) -> list[Any]:
    store = p.store()
    try:
        return sorted(store.schedule_fires(name, limit=100_000), key=lambda f: f.fire_at)
    finally:
        store.close()


def _runs(p: Any, pipeline: str) -> list[Any]:
    store = p.store()
    try:
        return [r for r in store.list_runs(limit=100_000) if r.pipeline == pipeline]
    finally:
        store.close()


def _wait(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int | None) -> bool:
    from flowy_cli.scheduler_loop import pid_alive

    return pid_alive(pid)


def _wait_children_gone(project: Path) -> None:
    """Every flowy run a scheduler started has ended (gates opened first)."""
    for gate in project.glob("gate-*"):
        gate.touch()
    for gate_name in ("gate-solo", "gate-pair"):
        (project / gate_name).touch()
    db = project / ".flowy" / "metadata.db"
    if not db.exists():
        return
    store = SQLMetadataStore(f"sqlite:///{db}")
    try:
        pids = [f.pid for f in store.schedule_fires(limit=100_000) if f.status == "started"]
    finally:
        store.close()
    deadline = time.monotonic() + WAIT
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT) == 0
    return Path(proc.out_path).read_text()  # type: ignore[attr-defined]


def _settle(p: Any, name: str) -> list[Any]:
    """Wait for the processes of started due times to end, then let `scheduler --once`
    (the schedule paused, so it starts nothing) record how they ended."""
    p.flowy("schedule", "pause", name)
    _wait(
        lambda: not any(_alive(f.pid) for f in _fires(p, name) if f.status == "started"),
        "the started runs to end",
    )
    p.flowy("scheduler", "--once")
    fires = _fires(p, name)
    assert {f.status for f in fires} <= {FINISHED, SKIPPED, "failed"}, fires
    return fires


def test_kill_9_and_restart_neither_doubles_nor_loses_a_due_time(proj: Any) -> None:
    proj.flowy("schedule", "add", "every", "quick.py", "--cron", "* * * * * *", "--param", "n=3")
    first = proj.scheduler()
    _wait(lambda: sum(f.status == FINISHED for f in _fires(proj, "every")) >= 3, "3 runs by A")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    killed_after = max(f.fire_at for f in _fires(proj, "every"))
    # Downtime: at least two due times pass with no scheduler.
    _wait(lambda: time.time() > killed_after + 3.5, "two due times to pass unserved")
    second = proj.scheduler(name="restarted")
    _wait(
        lambda: sum(
            f.status == FINISHED and f.fire_at > killed_after for f in _fires(proj, "every")
        ) >= 3,
        "3 runs by the restarted scheduler",
    )  # fmt: skip
    output = _stop(second)
    assert "scheduler stopped" in output
    fires = _settle(proj, "every")
    times = [f.fire_at for f in fires]
    # None lost: every due time from the first to the last has its row (started or skipped).
    assert times == [times[0] + i for i in range(len(times))], times
    # None doubled: each finished due time has its own run, and every run has a due time.
    finished = [f for f in fires if f.status == FINISHED]
    run_ids = [f.run_id for f in finished]
    assert None not in run_ids and len(set(run_ids)) == len(run_ids)
    runs = _runs(proj, "quick")
    assert sorted(r.run_id for r in runs) == sorted(run_ids)
    assert all(r.status == "completed" and r.params == {"n": 3} for r in runs)
    # The catch-up policy (latest): due times missed in the downtime were skipped as
    # superseded, and the restarted scheduler started the newest of them.
    missed = [f for f in fires if killed_after < f.fire_at and f.status == SKIPPED]
    assert any("superseded" in (f.reason or "") for f in missed), fires
    assert any(f.fire_at > killed_after and f.status == FINISHED for f in fires)


def test_two_schedulers_on_one_store_start_each_due_time_once(proj: Any) -> None:
    proj.flowy("schedule", "add", "shared", "quick.py", "--cron", "* * * * * *",
               "--allow-overlap")  # fmt: skip
    both = [proj.scheduler(name="a"), proj.scheduler(name="b")]
    _wait(lambda: sum(f.status == FINISHED for f in _fires(proj, "shared")) >= 4, "4 runs")
    for sched in both:
        _stop(sched)
    fires = _settle(proj, "shared")
    times = [f.fire_at for f in fires]
    assert times == [times[0] + i for i in range(len(times))], times
    run_ids = [f.run_id for f in fires if f.status == FINISHED]
    assert None not in run_ids and len(set(run_ids)) == len(run_ids)
    assert sorted(r.run_id for r in _runs(proj, "quick")) == sorted(run_ids)


def test_a_claim_left_by_a_dead_scheduler_is_failed_not_started(proj: Any) -> None:
    from flowy.kernel.schedules import ScheduleFire

    proj.flowy("schedule", "add", "orphan", "quick.py", "--cron", "0 3 * * *")
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = proj.store()
    try:
        import socket

        at = store.get_schedule("orphan").created_at + 0.5
        claim = ScheduleFire("orphan", at, "claimed", claimed_at=at, pid=dead.pid,
                             host=socket.gethostname())  # fmt: skip
        assert store.claim_fires("orphan", [claim])
    finally:
        store.close()
    out = proj.flowy("scheduler", "--once").stdout
    assert "failed orphan" in out
    (fire,) = _fires(proj, "orphan")
    assert fire.status == "failed" and "stopped between claiming" in (fire.reason or "")
    assert fire.run_id is None and _runs(proj, "quick") == []


def test_after_a_long_downtime_latest_starts_the_newest_due_time(proj: Any) -> None:
    from flowy.kernel.schedules import ScheduleFire

    proj.flowy("schedule", "add", "long", "quick.py", "--cron", "* * * * * *")
    store = proj.store()
    try:  # its last due time three hours ago: 10,800 due times missed since
        at = float(int(time.time()) - 3 * 3600)
        store.claim_fires("long", [ScheduleFire("long", at, SKIPPED, claimed_at=at)])
    finally:
        store.close()
    before = time.time()
    proj.flowy("scheduler", "--once")
    fires = _fires(proj, "long")
    started = [f for f in fires if f.status not in (SKIPPED,)]
    assert len(started) == 1 and started[0].fire_at >= int(before) - 1
    assert started[0].status == FINISHED and started[0].run_id
    assert len(fires) <= 1002  # the list is cut, not 10,800 rows in one tick


def test_each_tick_evaluates_freshness_alerts(proj: Any) -> None:
    import json

    proj.flowy("alert", "add", "stale", "--kind", "freshness", "--pipeline", "quick",
               "--within", "1h")  # fmt: skip
    out = proj.flowy("scheduler", "--once").stdout
    assert "alert firing: stale (quick)" in out
    (alert,) = json.loads(proj.flowy("alerts", "--json").stdout)
    assert (alert["rule"], alert["status"]) == ("stale", "firing")
    proj.flowy("run", "quick.py")  # a successful run: fresh again (resolved at run end or
    assert "alert firing" not in proj.flowy("scheduler", "--once").stdout  # by this tick)
    assert json.loads(proj.flowy("alerts", "--json").stdout) == []


def test_a_schedule_never_overlaps_itself_unless_allowed(proj: Any) -> None:
    gates = {name: proj.root / f"gate-{name}" for name in ("solo", "pair")}
    for name, gate in gates.items():
        extra = ["--allow-overlap"] if name == "pair" else []
        proj.flowy(
            "schedule", "add", name, "gated.py", "--cron", "* * * * * *",
            "--param", f"gate={gate}", *extra,
        )  # fmt: skip
    sched = proj.scheduler()

    def overlap_skips() -> int:
        return sum("overlap" in (f.reason or "") for f in _fires(proj, "solo"))

    def concurrent_pair_runs() -> int:
        return sum(
            r.status == "running" and r.params.get("gate") == str(gates["pair"])
            for r in _runs(proj, "gated")
        )

    _wait(lambda: overlap_skips() >= 2, "two due times of 'solo' skipped for overlap")
    _wait(lambda: concurrent_pair_runs() >= 2, "two runs of 'pair' at once")
    for gate in gates.values():
        gate.touch()
    _stop(sched)
    solo = _settle(proj, "solo")
    _settle(proj, "pair")
    runs = {r.run_id: r for r in _runs(proj, "gated")}
    solo_runs = sorted(
        (runs[f.run_id] for f in solo if f.status == FINISHED), key=lambda r: r.started_at
    )
    assert solo_runs
    for before, after in itertools.pairwise(solo_runs):
        assert before.finished_at is not None and before.finished_at <= after.started_at
    skipped = [f for f in solo if "overlap" in (f.reason or "")]
    first = solo_runs[0]
    assert any(first.started_at <= f.fire_at <= (first.finished_at or 0) for f in skipped)


def test_catchup_all_runs_each_missed_time_in_turn_and_none_skips_them(proj: Any) -> None:
    proj.flowy("schedule", "add", "skip", "quick.py", "--cron", "* * * * * *", "--catchup", "none")
    store = proj.store()
    created = store.get_schedule("skip").created_at
    store.close()
    _wait(lambda: time.time() > created + 2.5, "due times to pass with no scheduler")
    before = time.time()
    proj.flowy("scheduler", "--once")
    proj.flowy("schedule", "pause", "skip")
    missed = [f for f in _fires(proj, "skip") if f.fire_at <= before]
    assert len(missed) >= 2
    assert all(f.status == SKIPPED and "missed" in (f.reason or "") for f in missed), missed

    proj.flowy("schedule", "add", "each", "quick.py", "--cron", "* * * * * *", "--catchup", "all")
    store = proj.store()
    created = store.get_schedule("each").created_at
    store.close()
    _wait(lambda: time.time() > created + 3.5, "three due times to pass with no scheduler")
    done = proj.flowy("scheduler", "--max-runs", "3")
    assert done.stdout.count("started each") == 3, done.stdout
    each = _fires(proj, "each")
    assert [f.status for f in each] == [FINISHED] * 3  # the oldest three, none skipped
    assert [f.fire_at for f in each] == [each[0].fire_at + i for i in range(3)]
    assert each[0].fire_at == float(int(created) + 1)
    runs = {r.run_id: r for r in _runs(proj, "quick")}
    ordered = [runs[f.run_id] for f in each]
    for before_run, after_run in itertools.pairwise(ordered):
        assert before_run.finished_at is not None
        assert before_run.finished_at <= after_run.started_at  # in turn, not overlapping


def test_pause_resume_remove_list_and_bad_input(proj: Any) -> None:
    f = proj.flowy
    f("schedule", "add", "nightly", "quick.py", "--cron", "0 3 * * *", "--timezone",
      "Europe/Paris", "--param", "n=2")  # fmt: skip
    f("schedule", "add", "often", "quick.py", "--cron", "* * * * * *")
    f("schedule", "pause", "often")
    store = proj.store()
    created = store.get_schedule("often").created_at
    store.close()
    _wait(lambda: time.time() > created + 2.5, "due times to pass while paused")
    f("scheduler", "--once")
    assert _fires(proj, "often") == []  # paused: nothing claimed
    import json

    listed = {s["name"]: s for s in json.loads(f("schedule", "list", "--json").stdout)}
    assert listed["often"]["paused"] and listed["often"]["next_due_at"] is None
    assert listed["nightly"]["timezone"] == "Europe/Paris" and listed["nightly"]["params"] == {
        "n": "2"
    }
    assert listed["nightly"]["next_due_at"] > time.time()
    f("schedule", "resume", "often")
    store = proj.store()
    resumed = store.get_schedule("often").last_fire_at  # resuming moved it to then
    store.close()
    assert resumed is not None and resumed > created
    _wait(lambda: time.time() > resumed + 1.5, "a due time after resuming")
    f("scheduler", "--once")
    fires = _fires(proj, "often")
    assert fires and all(x.fire_at > resumed for x in fires)  # the paused time not caught up
    table = f("schedule", "list").stdout
    assert "often" in table and "nightly" in table and "completed" in table
    f("schedule", "remove", "often")
    assert "often" not in f("schedule", "list").stdout
    assert _runs(proj, "quick")  # its runs stay

    def refused(*args: str, says: str) -> None:
        done = f(*args, code=None)
        assert done.returncode != 0 and says in done.stdout + done.stderr, done

    refused("schedule", "add", "x", "quick.py", "--cron", "61 * * * *", says="Invalid cron")
    refused("schedule", "add", "x", "quick.py", "--cron", "* * *", says="3 field(s)")
    refused("schedule", "add", "x", "missing.py", "--cron", "* * * * *", says="does not exist")
    refused("schedule", "add", "nightly", "quick.py", "--cron", "* * * * *", says="already exists")
    refused("schedule", "add", "a\x1bb", "quick.py", "--cron", "* * * * *", says="non-printing")
    refused("schedule", "add", "x", "quick.py", "--cron", "* * * * *", "--param", "m=1",
            says="Unknown parameter")  # fmt: skip
    refused("schedule", "add", "x", "quick.py", "--cron", "* * * * *", "--timezone", "Mars/Base",
            says="Unknown time zone")  # fmt: skip
    refused("schedule", "pause", "ghost", says="No schedule named 'ghost'")
    refused("schedule", "remove", "ghost", says="No schedule named 'ghost'")
    assert [s["name"] for s in json.loads(f("schedule", "list", "--json").stdout)] == ["nightly"]
    assert os.path.isdir(proj.root)


def test_the_catchup_policy_in_pure_form() -> None:
    pending = [1.0, 2.0, 3.0, 4.0]
    latest = plan(pending, "latest", scheduler_started_at=10, running=False, allow_overlap=False)
    assert latest.start == [4.0] and [t for t, _ in latest.skip] == [1.0, 2.0, 3.0]
    busy = plan(pending, "latest", scheduler_started_at=10, running=True, allow_overlap=False)
    assert busy.start == [] and "overlap" in busy.skip[-1][1]
    each = plan(pending, "all", scheduler_started_at=10, running=False, allow_overlap=False)
    assert each.start == [1.0] and each.wait == [2.0, 3.0, 4.0]
    queued = plan(pending, "all", scheduler_started_at=10, running=True, allow_overlap=False)
    assert queued.start == [] and queued.wait == pending and queued.skip == []
    together = plan(pending, "all", scheduler_started_at=10, running=True, allow_overlap=True)
    assert together.start == pending
    none = plan(pending, "none", scheduler_started_at=3.5, running=False, allow_overlap=False)
    assert none.start == [4.0] and all("missed" in why for _, why in none.skip)
    assert plan([], "none", scheduler_started_at=0, running=False, allow_overlap=False).start == []
