""":class:`flowy.kernel.circuits.CircuitBreakers` for the SQL stores (SQLite and PostgreSQL).

Each change reads the breaker's row, applies the kernel's pure transition
(:func:`~flowy.kernel.circuits.admitted`, :func:`~flowy.kernel.circuits.ended`,
:func:`~flowy.kernel.circuits.reset`, :func:`~flowy.kernel.circuits.tripped`)
and writes the result as a compare-and-set in the same transaction: an UPDATE
conditioned on the row's ``updated_at`` being the one read (it strictly
increases with every change, so it is the row's version), or an INSERT that
the primary key refuses when another writer created the row first. A lost race
reads again. On SQLite the write transaction (``BEGIN IMMEDIATE``) already
serialises writers; on PostgreSQL (READ COMMITTED) the condition is what keeps
two runs from both claiming a half-open trial. A change that changes nothing
(a closed breaker admitting a run, the common case) is decided in a read
transaction and writes nothing.

The rules are written once (:class:`_CircuitRows`) over a small transaction
interface with two implementations: SQLAlchemy Core for
:class:`~flowy_store_sqlite.metadata.SQLMetadataStore` (:class:`CircuitQueries`)
and the stdlib driver for :class:`~flowy_store_sqlite.sqlite.SQLiteMetadataStore`
(:class:`SQLiteCircuitQueries`), so a ``flowy run`` on the default stack with a
guarded step does not import SQLAlchemy (about half a second on a busy machine).
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import attrs
from flowy.kernel import circuits as C
from flowy.kernel.circuits import Admission, CircuitBreakers, CircuitState

from flowy_store_sqlite.procs import pid_alive

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from sqlalchemy import Connection

#: Compare-and-set attempts before giving up (each loses only to a concurrent change).
ATTEMPTS = 50
_RUNNING = "running"
_FIELDS = tuple(f.name for f in attrs.fields(CircuitState))


class _Tx(Protocol):
    """What the rules need of one transaction on the ``circuit_breakers`` table."""

    def rows(self, pipeline: str | None, step: str | None) -> list[CircuitState]: ...
    def run(self, run_id: str) -> tuple[str, int | None, str | None, float] | None: ...
    def insert(self, state: CircuitState) -> None: ...
    def update(self, state: CircuitState, version: float) -> int: ...


class _CircuitRows(CircuitBreakers):
    """The rules, over :meth:`_circuit_tx` (see the module docstring)."""

    def _circuit_tx(self, write: bool) -> AbstractContextManager[_Tx]:
        raise NotImplementedError

    def _circuit_conflict(self) -> tuple[type[BaseException], ...]:
        """The errors of an INSERT that lost to a concurrent one (the primary key)."""
        raise NotImplementedError

    def circuit_states(self, pipeline: str | None = None) -> list[CircuitState]:
        """Every breaker (of ``pipeline`` when given), by pipeline then step."""
        with self._circuit_tx(write=False) as tx:
            return tx.rows(pipeline, None)

    def circuit_state(self, pipeline: str, step: str) -> CircuitState:
        """One breaker; closed with no failures when it has no row."""
        with self._circuit_tx(write=False) as tx:
            return _one(tx, pipeline, step) or C.closed(pipeline, step)

    def circuit_admit(
        self,
        pipeline: str,
        step: str,
        run_id: str,
        *,
        reset_after: float,
        trial_expires_after: float | None = None,
    ) -> Admission:
        """Whether ``run_id`` may attempt the step; claims a due half-open trial atomically."""
        verdict: list[bool] = []

        def change(tx: _Tx, old: CircuitState) -> CircuitState:
            running = old.state != C.HALF_OPEN or _run_running(tx, old.trial_run_id)
            allowed, new = C.admitted(
                old, run_id, reset_after, time.time(), running, trial_expires_after
            )
            verdict[:] = [allowed]
            return new

        new = self._change(pipeline, step, change)
        trial = new.state == C.HALF_OPEN and new.trial_run_id == run_id
        return Admission(verdict[0], trial, new)

    def circuit_ended(
        self,
        pipeline: str,
        step: str,
        run_id: str,
        *,
        failed: bool,
        error: str | None = None,
        threshold: int,
    ) -> CircuitState:
        """Record that ``run_id``'s attempt ended; returns the breaker after it."""

        def change(_tx: _Tx, old: CircuitState) -> CircuitState:
            return C.ended(
                old, run_id, failed=failed, error=error, threshold=threshold, now=time.time()
            )

        return self._change(pipeline, step, change)

    def circuit_reset(
        self, pipeline: str | None = None, step: str | None = None
    ) -> list[CircuitState]:
        """Close the breakers named (every one when ``pipeline`` is None); returns them."""
        return [
            self._change(s.pipeline, s.step, lambda _tx, old: C.reset(old, time.time()))
            for s in self.circuit_states(pipeline)
            if step is None or s.step == step
        ]

    def circuit_trip(self, pipeline: str, step: str, reason: str) -> CircuitState:
        """Open one breaker by hand; it is open from now on, its failures kept."""
        return self._change(pipeline, step, lambda _tx, old: C.tripped(old, time.time(), reason))

    def _change(
        self, pipeline: str, step: str, change: Callable[[_Tx, CircuitState], CircuitState]
    ) -> CircuitState:
        """Apply ``change`` to the row as a compare-and-set, reading again after a lost race."""
        with self._circuit_tx(write=False) as tx:
            old = _one(tx, pipeline, step) or C.closed(pipeline, step)
            if change(tx, old) == old:
                return old
        conflict = self._circuit_conflict()
        for _ in range(ATTEMPTS):
            try:
                with self._circuit_tx(write=True) as tx:
                    found = _one(tx, pipeline, step)
                    old = found or C.closed(pipeline, step)
                    new = change(tx, old)
                    if new == old:
                        return old
                    if found is None:
                        tx.insert(new)
                        return new
                    if tx.update(new, old.updated_at) == 1:
                        return new
            except conflict:
                pass  # another writer created the row first: read it and decide again
            time.sleep(0.005)
        raise RuntimeError(
            f"circuit breaker {pipeline}/{step}: {ATTEMPTS} concurrent changes in a row; "
            "the store is unusually busy, try again"
        )


def _one(tx: _Tx, pipeline: str, step: str) -> CircuitState | None:
    found = tx.rows(pipeline, step)
    return found[0] if found else None


def _run_running(tx: _Tx, run_id: str | None) -> bool:
    """Whether the run holding a trial still runs: recorded ``running`` and, when it was
    started on this host, its process alive (a killed run is not marked crashed until
    someone looks; another host's pids mean nothing here)."""
    if run_id is None:
        return False
    row = tx.run(run_id)
    if row is None or row[0] != _RUNNING:
        return False
    _status, pid, host, started_at = row
    if pid and host == socket.gethostname():
        return pid_alive(pid, started_at)
    return True


# -- SQLAlchemy (SQLMetadataStore: SQLite and PostgreSQL) ------------------------------


class _AlchemyTx:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, pipeline: str | None, step: str | None) -> list[CircuitState]:
        from sqlalchemy import select

        from flowy_store_sqlite import schema as s

        c = s.circuit_breakers.c
        query = select(s.circuit_breakers).order_by(c.pipeline, c.step)
        if pipeline is not None:
            query = query.where(c.pipeline == pipeline)
        if step is not None:
            query = query.where(c.step == step)
        return [
            CircuitState(**{n: r[n] for n in _FIELDS}) for r in self.conn.execute(query).mappings()
        ]

    def run(self, run_id: str) -> tuple[str, int | None, str | None, float] | None:
        from sqlalchemy import select

        from flowy_store_sqlite import schema as s

        r = s.runs.c
        row = self.conn.execute(
            select(r.status, r.pid, r.host, r.started_at).where(r.run_id == run_id)
        ).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def insert(self, state: CircuitState) -> None:
        from sqlalchemy import insert

        from flowy_store_sqlite import schema as s

        self.conn.execute(insert(s.circuit_breakers), attrs.asdict(state))

    def update(self, state: CircuitState, version: float) -> int:
        from sqlalchemy import update

        from flowy_store_sqlite import schema as s

        c = s.circuit_breakers.c
        statement = (
            update(s.circuit_breakers)
            .where(c.pipeline == state.pipeline, c.step == state.step, c.updated_at == version)
            .values(attrs.asdict(state))
        )
        return int(self.conn.execute(statement).rowcount)


class CircuitQueries(_CircuitRows):
    """Circuit breaker rows through SQLAlchemy Core (the ``sql`` store, any database)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...

    @contextlib.contextmanager
    def _circuit_tx(self, write: bool) -> Iterator[_Tx]:
        with self._write() if write else self._read() as conn:
            yield _AlchemyTx(conn)

    def _circuit_conflict(self) -> tuple[type[BaseException], ...]:
        from sqlalchemy.exc import IntegrityError

        return (IntegrityError,)


# -- the stdlib driver (SQLiteMetadataStore) -------------------------------------------

_COLUMNS = ", ".join(_FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM circuit_breakers"
_ORDER = " ORDER BY pipeline, step"
_INSERT = f"INSERT INTO circuit_breakers ({_COLUMNS}) VALUES ({', '.join('?' * len(_FIELDS))})"
_UPDATE = (
    "UPDATE circuit_breakers SET "
    + ", ".join(f"{n} = ?" for n in _FIELDS)
    + " WHERE pipeline = ? AND step = ? AND updated_at = ?"
)
_RUN = "SELECT status, pid, host, started_at FROM runs WHERE run_id = ?"


class _SQLiteTx:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self.cur = cur

    def rows(self, pipeline: str | None, step: str | None) -> list[CircuitState]:
        where, params = [], []
        if pipeline is not None:
            where.append("pipeline = ?")
            params.append(pipeline)
        if step is not None:
            where.append("step = ?")
            params.append(step)
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + _ORDER
        return [CircuitState(*row) for row in self.cur.execute(sql, params).fetchall()]

    def run(self, run_id: str) -> tuple[str, int | None, str | None, float] | None:
        row = self.cur.execute(_RUN, (run_id,)).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def insert(self, state: CircuitState) -> None:
        self.cur.execute(_INSERT, attrs.astuple(state))

    def update(self, state: CircuitState, version: float) -> int:
        self.cur.execute(_UPDATE, (*attrs.astuple(state), state.pipeline, state.step, version))
        return self.cur.rowcount


class SQLiteCircuitQueries(_CircuitRows):
    """Circuit breaker rows through the stdlib driver (the default ``sqlite`` store)."""

    if TYPE_CHECKING:

        def _transaction(self, write: bool) -> AbstractContextManager[sqlite3.Cursor]: ...

    @contextlib.contextmanager
    def _circuit_tx(self, write: bool) -> Iterator[_Tx]:
        with self._transaction(write) as cur:
            yield _SQLiteTx(cur)

    def _circuit_conflict(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.IntegrityError,)
