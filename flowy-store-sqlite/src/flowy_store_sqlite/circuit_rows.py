""":class:`flowy.kernel.circuits.CircuitBreakers` for the SQL store (SQLite and PostgreSQL).

Each change reads the breaker's row, applies the kernel's pure transition
(:func:`~flowy.kernel.circuits.admitted`, :func:`~flowy.kernel.circuits.ended`,
:func:`~flowy.kernel.circuits.reset`) and writes the result as a
compare-and-set in the same transaction: an UPDATE conditioned on the row's
``updated_at`` being the one read (it strictly increases with every change, so
it is the row's version), or an INSERT that the primary key refuses when
another writer created the row first. A lost race reads again. On SQLite the
write transaction (``BEGIN IMMEDIATE``) already serialises writers; on
PostgreSQL (READ COMMITTED) the condition is what keeps two runs from both
claiming a half-open trial.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import attrs
from flowy.kernel import circuits as C
from flowy.kernel.circuits import Admission, CircuitBreakers, CircuitState
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from flowy_store_sqlite import schema as s
from flowy_store_sqlite.procs import pid_alive

#: Compare-and-set attempts before giving up (each loses only to a concurrent change).
ATTEMPTS = 50
_RUNNING = "running"

_cb = s.circuit_breakers.c
_FIELDS = tuple(f.name for f in attrs.fields(CircuitState))


def _state(row: Any) -> CircuitState:
    return CircuitState(**{name: row[name] for name in _FIELDS})


class CircuitQueries(CircuitBreakers):
    """Circuit breaker rows: read, admit, record an outcome, reset (the capability itself,
    so a store with this mixin among its bases is a :class:`CircuitBreakers`)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...

    def circuit_states(self, pipeline: str | None = None) -> list[CircuitState]:
        """Every breaker (of ``pipeline`` when given), by pipeline then step."""
        query = select(s.circuit_breakers).order_by(_cb.pipeline, _cb.step)
        if pipeline is not None:
            query = query.where(_cb.pipeline == pipeline)
        with self._read() as conn:
            return [_state(r) for r in conn.execute(query).mappings()]

    def circuit_state(self, pipeline: str, step: str) -> CircuitState:
        """One breaker; closed with no failures when it has no row."""
        with self._read() as conn:
            return _row(conn, pipeline, step) or C.closed(pipeline, step)

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

        def change(conn: Connection, old: CircuitState) -> CircuitState:
            running = old.state != C.HALF_OPEN or _run_running(conn, old.trial_run_id)
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

        def change(conn: Connection, old: CircuitState) -> CircuitState:
            return C.ended(
                old, run_id, failed=failed, error=error, threshold=threshold, now=time.time()
            )

        return self._change(pipeline, step, change)

    def circuit_reset(
        self, pipeline: str | None = None, step: str | None = None
    ) -> list[CircuitState]:
        """Close the breakers named (every one when ``pipeline`` is None); returns them."""
        out = []
        for state in self.circuit_states(pipeline):
            if step is not None and state.step != step:
                continue
            out.append(
                self._change(
                    state.pipeline, state.step, lambda _conn, old: C.reset(old, time.time())
                )
            )
        return out

    def circuit_trip(self, pipeline: str, step: str, reason: str) -> CircuitState:
        """Open one breaker by hand; it is open from now on, its failures kept."""
        return self._change(pipeline, step, lambda _conn, old: C.tripped(old, time.time(), reason))

    def _change(
        self,
        pipeline: str,
        step: str,
        change: Callable[[Connection, CircuitState], CircuitState],
    ) -> CircuitState:
        """Apply ``change`` to the row as a compare-and-set, reading again after a lost race.

        A change that changes nothing (a closed breaker admitting a run, the common
        case) is decided in a read transaction and writes nothing.
        """
        with self._read() as conn:
            old = _row(conn, pipeline, step) or C.closed(pipeline, step)
            if change(conn, old) == old:
                return old
        for _ in range(ATTEMPTS):
            try:
                with self._write() as conn:
                    found = _row(conn, pipeline, step)
                    old = found or C.closed(pipeline, step)
                    new = change(conn, old)
                    if new == old:
                        return old
                    values = attrs.asdict(new)
                    if found is None:
                        conn.execute(insert(s.circuit_breakers), values)
                        return new
                    written = conn.execute(
                        update(s.circuit_breakers)
                        .where(
                            _cb.pipeline == pipeline,
                            _cb.step == step,
                            _cb.updated_at == old.updated_at,
                        )
                        .values(values)
                    ).rowcount
                    if written == 1:
                        return new
            except IntegrityError:
                pass  # another writer created the row first: read it and decide again
            time.sleep(0.005)
        raise RuntimeError(
            f"circuit breaker {pipeline}/{step}: {ATTEMPTS} concurrent changes in a row; "
            "the store is unusually busy, try again"
        )


def _row(conn: Connection, pipeline: str, step: str) -> CircuitState | None:
    row = (
        conn.execute(select(s.circuit_breakers).where(_cb.pipeline == pipeline, _cb.step == step))
        .mappings()
        .first()
    )
    return None if row is None else _state(row)


def _run_running(conn: Connection, run_id: str | None) -> bool:
    """Whether the run holding a trial still runs: recorded ``running`` and, when it was
    started on this host, its process alive (a killed run is not marked crashed until
    someone looks; another host's pids mean nothing here)."""
    if run_id is None:
        return False
    r = s.runs.c
    row = conn.execute(
        select(r.status, r.pid, r.host, r.started_at).where(r.run_id == run_id)
    ).first()
    if row is None or row.status != _RUNNING:
        return False
    if row.pid and row.host == socket.gethostname():
        return pid_alive(row.pid, row.started_at)
    return True
