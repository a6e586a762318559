"""Circuit breaker rows (:mod:`flowy_store_sqlite.circuit_rows`) on SQLite and PostgreSQL.

The transitions are asserted from the store; the half-open trial is claimed by
several processes at once (each with its own store on one database) and
exactly one wins.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel import circuits as C
from flowy.kernel.circuits import CircuitBreakers, breakers_of
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import RunRecord
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

# The PostgreSQL server fixtures of test_postgres.py (a throwaway server per module).
_spec = importlib.util.spec_from_file_location(
    "flowy_circuit_pg_fixtures", Path(__file__).with_name("test_postgres.py")
)
assert _spec is not None and _spec.loader is not None
_pg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pg)
server_url = _pg.server_url
pg_url = _pg.pg_url

Opener = Callable[[], Any]


@pytest.fixture(
    params=[
        "sqlite3",
        "sqlalchemy",
        pytest.param("postgres", marks=pytest.mark.slow),
    ]
)
def url_and_class(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    """A database URL and the store class that opens it (fresh database per test)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url"), SQLMetadataStore
    cls: Any = SQLiteMetadataStore if request.param == "sqlite3" else SQLMetadataStore
    return f"sqlite:///{tmp_path / 'flowy.db'}", cls


@pytest.fixture
def store(url_and_class: tuple[str, Any]) -> Iterator[Any]:
    url, cls = url_and_class
    store = cls(url)
    yield store
    store.close()


def _run(store: Any, run_id: str, status: str = "running") -> None:
    store.create_run(RunRecord(run_id, "p", status, {}, {}, time.time()))


def test_the_store_is_the_capability(store: Any) -> None:
    assert isinstance(store, CircuitBreakers)
    assert breakers_of(store) is store


def test_a_store_without_it_gets_a_clear_error() -> None:
    with pytest.raises(FlowyError, match="keeps no circuit breaker state.*sqlite"):
        breakers_of(object())


def test_closed_to_open_to_half_open_to_closed(store: Any) -> None:
    assert store.circuit_states() == []
    assert store.circuit_state("p", "s").state == C.CLOSED
    assert store.circuit_admit("p", "s", "r1", reset_after=3600).allowed
    state = store.circuit_ended("p", "s", "r1", failed=True, error="boom 1", threshold=2)
    assert (state.state, state.failures, state.last_error) == (C.CLOSED, 1, "boom 1")
    state = store.circuit_ended("p", "s", "r2", failed=True, error="boom 2", threshold=2)
    assert (state.state, state.failures) == (C.OPEN, 2)
    assert state.opened_at is not None
    # Open: not admitted before reset_after, whoever asks.
    denied = store.circuit_admit("p", "s", "r3", reset_after=3600)
    assert not denied.allowed and denied.state.state == C.OPEN
    # Due (reset_after 0): one trial, held by r3; r4 is refused while r3 runs.
    _run(store, "r3")
    trial = store.circuit_admit("p", "s", "r3", reset_after=0)
    assert trial.allowed and trial.trial
    assert store.circuit_state("p", "s").trial_run_id == "r3"
    other = store.circuit_admit("p", "s", "r4", reset_after=3600)
    assert not other.allowed and not other.trial
    closed = store.circuit_ended("p", "s", "r3", failed=False, threshold=2)
    assert (closed.state, closed.failures, closed.trial_run_id) == (C.CLOSED, 0, None)
    [listed] = store.circuit_states()
    assert listed == closed


def test_a_failed_trial_reopens(store: Any) -> None:
    store.circuit_ended("p", "s", "r1", failed=True, error="x", threshold=1)
    first = store.circuit_state("p", "s").opened_at
    _run(store, "r2")
    assert store.circuit_admit("p", "s", "r2", reset_after=0).trial
    state = store.circuit_ended("p", "s", "r2", failed=True, error="still down", threshold=1)
    assert (state.state, state.failures, state.last_error) == (C.OPEN, 2, "still down")
    assert state.opened_at is not None and state.opened_at >= first


def test_a_stale_success_does_not_close_an_open_breaker(store: Any) -> None:
    store.circuit_ended("p", "s", "r1", failed=True, error="x", threshold=1)
    state = store.circuit_ended("p", "s", "r0", failed=False, threshold=1)
    assert state.state == C.OPEN


def test_a_dead_trial_is_claimed_again(store: Any) -> None:
    store.circuit_ended("p", "s", "r1", failed=True, error="x", threshold=1)
    _run(store, "dead")
    assert store.circuit_admit("p", "s", "dead", reset_after=0).trial
    # Its run still recorded running and the trial fresh: nobody else gets it.
    assert not store.circuit_admit("p", "s", "next", reset_after=3600).allowed
    # The run ends without recording the trial (cancelled, crashed and marked): claimable.
    store.finish_run("dead", "cancelled", time.time())
    claimed = store.circuit_admit("p", "s", "next", reset_after=3600)
    assert claimed.trial and claimed.state.trial_run_id == "next"
    # A trial older than reset_after is claimable too (its run may be running still).
    _run(store, "next")
    assert store.circuit_admit("p", "s", "third", reset_after=0).trial


def test_a_trial_whose_process_is_gone_is_claimed_again(store: Any) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.circuit_ended("p", "s", "r1", failed=True, error="x", threshold=1)
    dead = RunRecord("dead", "p", "running", {}, {}, time.time(), pid=gone.pid)
    dead.host = socket.gethostname()
    store.create_run(dead)
    assert store.circuit_admit("p", "s", "dead", reset_after=0, trial_expires_after=3600).trial
    # Still recorded running, but its process on this host is gone: the trial is free.
    claimed = store.circuit_admit("p", "s", "next", reset_after=0, trial_expires_after=3600)
    assert claimed.trial and claimed.state.trial_run_id == "next"


def test_reset_closes_the_named_breakers(store: Any) -> None:
    for pipeline, step in (("p", "a"), ("p", "b"), ("q", "a")):
        store.circuit_ended(pipeline, step, "r", failed=True, error="x", threshold=1)
    [only] = store.circuit_reset("p", "a")
    assert (only.pipeline, only.step, only.state, only.last_error) == ("p", "a", C.CLOSED, None)
    assert [s.state for s in store.circuit_states("p")] == [C.CLOSED, C.OPEN]
    assert [s.step for s in store.circuit_reset("p")] == ["a", "b"]
    assert {s.state for s in store.circuit_reset()} == {C.CLOSED}
    assert store.circuit_reset("nope") == []


def test_open_by_hand_keeps_the_failures(store: Any) -> None:
    store.circuit_ended("p", "s", "r1", failed=True, error="x", threshold=5)
    state = store.circuit_trip("p", "s", "maintenance")
    assert (state.state, state.failures, state.last_error) == (C.OPEN, 1, "maintenance")
    assert not store.circuit_admit("p", "s", "r2", reset_after=3600).allowed


def _claim(url: str, cls_name: str, run_id: str, start: Any, out: Any) -> None:
    cls: Any = SQLiteMetadataStore if cls_name == "SQLiteMetadataStore" else SQLMetadataStore
    store = cls(url)
    try:
        start.wait(60)
        # Due at once (reset_after 0), and a claimed trial is held for an hour.
        admission = store.circuit_admit("p", "s", run_id, reset_after=0, trial_expires_after=3600)
        out.put((run_id, admission.allowed, admission.trial))
    finally:
        store.close()


def test_exactly_one_process_claims_the_trial(url_and_class: tuple[str, Any]) -> None:
    url, cls = url_and_class
    store = cls(url)
    try:
        store.circuit_ended("p", "s", "r0", failed=True, error="down", threshold=1)
        runs = [f"run{i}" for i in range(4)]
        for run_id in runs:
            _run(store, run_id)
    finally:
        store.close()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(url, cls.__name__, r, start, out)) for r in runs]
    for p in procs:
        p.start()
    try:
        start.set()
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(60)
    winners = [r for r, allowed, trial in results if allowed and trial]
    assert len(winners) == 1, results
    assert not [r for r, allowed, _ in results if allowed and r not in winners]
    store = cls(url)
    try:
        assert store.circuit_state("p", "s").trial_run_id == winners[0]
    finally:
        store.close()
