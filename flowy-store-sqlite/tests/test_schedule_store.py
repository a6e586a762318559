"""Schedule rows (:mod:`flowy_store_sqlite.schedule_rows`) on SQLite and PostgreSQL.

The property that matters is asserted with processes: several claim the same due
times of one schedule at once, each with its own store on one database, and every
time ends up claimed by exactly one of them.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import RunRecord
from flowy.kernel.schedules import (
    Schedule,
    ScheduleExistsError,
    ScheduleFire,
    ScheduleNotFoundError,
    SchedulerHeartbeat,
    ScheduleStore,
    check_schedule_name,
    schedules_of,
)
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

# The PostgreSQL server fixtures of test_postgres.py (a throwaway server per module).
_spec = importlib.util.spec_from_file_location(
    "flowy_schedule_pg_fixtures", Path(__file__).with_name("test_postgres.py")
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
server_url = _pg.server_url
pg_url = _pg.pg_url


@pytest.fixture(params=["sqlite3", "sqlalchemy", pytest.param("postgres", marks=pytest.mark.slow)])
def url_and_class(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, type]:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url"), SQLMetadataStore
    cls = SQLiteMetadataStore if request.param == "sqlite3" else SQLMetadataStore
    return f"sqlite:///{tmp_path / 'flowy.db'}", cls


@pytest.fixture
def store(url_and_class: tuple[str, type]) -> Iterator[Any]:
    url, cls = url_and_class
    opened = cls(url)
    try:
        yield opened
    finally:
        opened.close()


def _schedule(name: str = "nightly", **kw: Any) -> Schedule:
    return Schedule(name, "/p/pipe.py", "0 3 * * *", created_at=100.0, **kw)


def _fire(at: float, status: str = "claimed", **kw: Any) -> ScheduleFire:
    return ScheduleFire("", at, status, claimed_at=at, **kw)


def test_schedules_round_trip_pause_resume_remove(store: Any) -> None:
    assert isinstance(store, ScheduleStore) and schedules_of(store) is store
    store.add_schedule(_schedule(params={"n": "3"}, stack="dev", allow_overlap=True))
    store.add_schedule(_schedule("b-first", catchup="all"))
    with pytest.raises(ScheduleExistsError, match="already exists"):
        store.add_schedule(_schedule())
    assert [s.name for s in store.list_schedules()] == ["b-first", "nightly"]
    got = store.get_schedule("nightly")
    assert (got.params, got.stack, got.allow_overlap, got.paused) == (
        {"n": "3"},
        "dev",
        True,
        False,
    )
    assert store.set_schedule_paused("nightly", True, now=500.0).paused
    resumed = store.set_schedule_paused("nightly", False, now=600.0)
    assert not resumed.paused and resumed.last_fire_at == 600.0  # the paused time is not caught up
    store.claim_fires("nightly", [_fire(700.0, "skipped", reason="x")])
    assert store.remove_schedule("nightly") == 1
    with pytest.raises(ScheduleNotFoundError, match="Known schedules: b-first"):
        store.get_schedule("nightly")
    with pytest.raises(ScheduleNotFoundError):
        store.remove_schedule("nightly")


def test_claims_are_taken_once_and_move_last_fire_at(store: Any) -> None:
    store.add_schedule(_schedule())
    first = store.claim_fires("nightly", [_fire(1.0), _fire(2.0, "skipped", reason="late")])
    assert [f.fire_at for f in first] == [1.0, 2.0]
    again = store.claim_fires("nightly", [_fire(2.0), _fire(3.0)])
    assert [f.fire_at for f in again] == [3.0]
    assert store.get_schedule("nightly").last_fire_at == 3.0
    store.update_fire("nightly", 3.0, status="started", pid=42, host="h", log="/l")
    fires = store.schedule_fires("nightly")
    assert [(f.fire_at, f.status) for f in fires] == [
        (3.0, "started"),
        (2.0, "skipped"),
        (1.0, "claimed"),
    ]
    assert fires[0].pid == 42 and fires[1].reason == "late"
    assert [f.fire_at for f in store.schedule_fires(statuses=("claimed",))] == [1.0]
    with pytest.raises(TypeError):
        store.update_fire("nightly", 3.0, schedule="other")
    with pytest.raises(ScheduleNotFoundError):
        store.claim_fires("missing", [_fire(1.0)])


def test_run_of_process_and_heartbeats(store: Any) -> None:
    store.create_run(RunRecord("r1", "p", "running", started_at=50.0, pid=7, host="h1"))
    assert store.run_of_process(7, "h1", 40.0) == ("r1", "running")
    assert store.run_of_process(7, "h1", 60.0) is None  # an older run of a reused pid
    assert store.run_of_process(7, "h2", 40.0) is None
    store.beat(SchedulerHeartbeat("s1", "h1", 9, 10.0, 11.0))
    store.beat(SchedulerHeartbeat("s1", "h1", 9, 10.0, 12.0))
    store.beat(SchedulerHeartbeat("s2", "h1", 8, 10.0, 20.0))
    assert [(h.scheduler_id, h.heartbeat_at) for h in store.scheduler_heartbeats()] == [
        ("s2", 20.0),
        ("s1", 12.0),
    ]
    store.end_heartbeat("s2")
    assert [h.scheduler_id for h in store.scheduler_heartbeats()] == ["s1"]


def test_names_are_checked() -> None:
    assert check_schedule_name("nightly-train.v2") == "nightly-train.v2"
    for bad in ("", "a\nb", "a\x1b[31m", "-x", ".x", "a/b", "a b", "x" * 200, "é"):
        with pytest.raises(FlowyError, match="Invalid schedule name"):
            check_schedule_name(bad)


def test_a_store_without_schedules_gets_a_clear_error() -> None:
    with pytest.raises(FlowyError, match="cannot keep schedules"):
        schedules_of(object())


def _claim_all(url: str, cls_name: str, times: list[float], out: Any) -> None:
    cls = SQLiteMetadataStore if cls_name == "SQLiteMetadataStore" else SQLMetadataStore
    store = cls(url)  # type: ignore[abstract]
    try:
        won: list[float] = []
        for at in times:  # one transaction per time: the processes interleave
            won += [f.fire_at for f in store.claim_fires("every", [_fire(at)])]
        out.put(won)
    finally:
        store.close()


def test_concurrent_processes_claim_each_time_once(url_and_class: tuple[str, type]) -> None:
    url, cls = url_and_class
    setup = cls(url)
    setup.add_schedule(_schedule("every"))
    setup.close()
    times = [float(t) for t in range(1, 41)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(url, cls.__name__, times, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    claimed = sorted(t for won in results for t in won)
    assert claimed == times  # every time claimed, none twice
    store = cls(url)
    try:
        assert len(store.schedule_fires("every", limit=1000)) == len(times)
        assert store.get_schedule("every").last_fire_at == max(times)
    finally:
        store.close()
