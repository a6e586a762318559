"""Circuit breakers: the state each ``@step(circuit_breaker=...)`` shares across runs.

A breaker guards one step of one pipeline (the key is pipeline + step) and its
state lives in the metadata store, so every run and every process sharing the
store sees the same breaker:

* ``closed``: the step runs; each failed step run (after its own retries) adds
  one to ``failures``, a success sets it back to 0. ``failures`` reaching the
  threshold opens the breaker.
* ``open``: the step is not attempted (its fallback supplies its outputs, or it
  is skipped) until ``reset_after`` seconds have passed since ``opened_at``.
* ``half_open``: one run holds the trial (``trial_run_id``) and attempts the
  step; its success closes the breaker, its failure opens it again
  (``opened_at`` = then). Every other run treats the breaker as open meanwhile.
  A trial whose run died holding it is not kept forever: it may be claimed
  again once its run is no longer ``running`` in the store (or, started on the
  asking host, its process is gone), or ``reset_after`` seconds after it was
  claimed.

The transitions are pure functions here (:func:`admitted`, :func:`ended`) so
that every store applies the same rules; a store makes them atomic by writing
each as a compare-and-set on the row it read (see the SQL store's
``CircuitQueries``). :class:`CircuitBreakers` is the store capability: the
engine, ``flowy circuits``, the metrics endpoint and ``flowy doctor`` read and
change breakers through it, and :func:`breakers_of` says plainly when a
stack's store lacks it.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import attrs

from flowy.kernel.errors import FlowyError

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)

#: A failed step run's error as a breaker keeps it: the first this many characters.
ERROR_LIMIT = 2000


@attrs.define
class CircuitState:
    """One breaker as the store keeps it (a step that never ended has no row: closed)."""

    pipeline: str
    step: str
    state: str
    """``closed``, ``open`` or ``half_open``."""
    failures: int
    """Consecutive failed step runs (after each run's own retries)."""
    opened_at: float | None = None
    """When it last opened (seconds since the epoch); None while closed."""
    trial_run_id: str | None = None
    """The run holding the half-open trial, if any."""
    last_error: str | None = None
    """The error of the newest failed step run."""
    updated_at: float = 0.0
    """When the row last changed; strictly increases, so it serves as the row's version."""


@attrs.frozen
class Admission:
    """What a run may do with a guarded step: attempt it, or not (the breaker is open)."""

    allowed: bool
    trial: bool
    """True when this run holds the half-open trial."""
    state: CircuitState
    """The breaker after the decision."""


@attrs.frozen
class BreakerOptions:
    """``@step(circuit_breaker={"failures": N, "reset_after": SECONDS})``, checked."""

    failures: int = 3
    reset_after: float = 600.0


def closed(pipeline: str, step: str) -> CircuitState:
    """The state of a breaker with no row yet."""
    return CircuitState(pipeline, step, CLOSED, 0)


def _later(old: CircuitState, now: float) -> float:
    """``now``, but strictly after the row's last change (it is the row's version)."""
    return max(now, math.nextafter(old.updated_at, math.inf))


def trial_expired(old: CircuitState, expires_after: float, now: float, trial_running: bool) -> bool:
    """Whether a half-open trial may be claimed again: its run ended or it is too old."""
    return not trial_running or now - old.updated_at >= expires_after


def admitted(  # noqa: PLR0917 - a pure transition: every input is positional by design
    old: CircuitState,
    run_id: str,
    reset_after: float,
    now: float,
    trial_running: bool,
    trial_expires_after: float | None = None,
) -> tuple[bool, CircuitState]:
    """Whether ``run_id`` may attempt the step, and the breaker after it asked.

    ``trial_running``: whether the run holding a half-open trial is still
    ``running`` in the store (ignored in other states); ``trial_expires_after``:
    seconds after which a trial still held may be claimed again (default
    ``reset_after``; the engine passes the step's timeout when that is longer).
    Claiming the trial is the only change; a store writes it as a
    compare-and-set so one run wins.
    """
    expires = reset_after if trial_expires_after is None else trial_expires_after
    if old.state == CLOSED:
        return True, old
    if old.state == HALF_OPEN and old.trial_run_id == run_id:
        return True, old
    opened = old.opened_at or 0.0
    due = (old.state == OPEN and now - opened >= reset_after) or (
        old.state == HALF_OPEN and trial_expired(old, expires, now, trial_running)
    )
    if not due:
        return False, old
    return True, attrs.evolve(
        old, state=HALF_OPEN, trial_run_id=run_id, updated_at=_later(old, now)
    )


def ended(
    old: CircuitState,
    run_id: str,
    *,
    failed: bool,
    error: str | None,
    threshold: int,
    now: float,
) -> CircuitState:
    """The breaker after ``run_id``'s attempt of the step ended (failed or succeeded).

    A success closes a closed breaker's count, and closes a half-open one when
    ``run_id`` holds the trial; a success that was admitted before another run
    opened the breaker changes nothing (only the trial decides). A failure
    counts in every state; it opens a closed breaker at ``threshold`` and
    re-opens a half-open one when it is the trial's.
    """
    at = _later(old, now)
    mine = old.state == HALF_OPEN and old.trial_run_id == run_id
    if not failed:
        if old.state == CLOSED or mine:
            if old.state == CLOSED and old.failures == 0 and old.updated_at:
                return old  # nothing to change: no write on the common path
            return attrs.evolve(
                old, state=CLOSED, failures=0, opened_at=None, trial_run_id=None, updated_at=at
            )
        return old
    message = (error or "failed (no error message)")[:ERROR_LIMIT]
    failures = old.failures + 1
    if mine or (old.state == CLOSED and failures >= threshold):
        return attrs.evolve(
            old,
            state=OPEN,
            failures=failures,
            opened_at=now,
            trial_run_id=None,
            last_error=message,
            updated_at=at,
        )
    return attrs.evolve(old, failures=failures, last_error=message, updated_at=at)


def reset(old: CircuitState, now: float) -> CircuitState:
    """A breaker closed by hand (``flowy circuits reset``)."""
    return attrs.evolve(
        old,
        state=CLOSED,
        failures=0,
        opened_at=None,
        trial_run_id=None,
        last_error=None,
        updated_at=_later(old, now),
    )


def tripped(old: CircuitState, now: float, reason: str) -> CircuitState:
    """A breaker opened by hand (``flowy circuits open``): open from ``now``, failures kept."""
    return attrs.evolve(
        old,
        state=OPEN,
        opened_at=now,
        trial_run_id=None,
        last_error=reason[:ERROR_LIMIT],
        updated_at=_later(old, now),
    )


class CircuitBreakers(abc.ABC):
    """The breakers' shared state in a metadata store (see the module docstring).

    Every change is atomic under concurrent runs and processes: a store reads the
    row, applies :func:`admitted` / :func:`ended` / :func:`reset`, and writes the
    result only if the row is still the one it read (else it reads again).
    """

    @abc.abstractmethod
    def circuit_states(self, pipeline: str | None = None) -> list[CircuitState]:
        """Every breaker (of ``pipeline`` when given), by pipeline then step."""

    @abc.abstractmethod
    def circuit_state(self, pipeline: str, step: str) -> CircuitState:
        """One breaker; a closed one with no failures when the store has no row for it."""

    @abc.abstractmethod
    def circuit_admit(
        self,
        pipeline: str,
        step: str,
        run_id: str,
        *,
        reset_after: float,
        trial_expires_after: float | None = None,
    ) -> Admission:
        """Whether ``run_id`` may attempt the step now; claims the half-open trial when due.

        Exactly one of several runs asking at once gets a trial. A trial held by
        a run no longer ``running`` in the store, or claimed ``trial_expires_after``
        seconds ago (default ``reset_after``), may be claimed again.
        """

    @abc.abstractmethod
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
        """Record that ``run_id``'s attempt of the step ended; returns the breaker after it."""

    @abc.abstractmethod
    def circuit_reset(
        self, pipeline: str | None = None, step: str | None = None
    ) -> list[CircuitState]:
        """Close the breakers named (all when ``pipeline`` is None); returns them as now closed."""

    @abc.abstractmethod
    def circuit_trip(self, pipeline: str, step: str, reason: str) -> CircuitState:
        """Open one breaker by hand (until ``reset_after`` brings a trial, or a reset)."""


def breakers_of(store: Any) -> CircuitBreakers:
    """The store as :class:`CircuitBreakers`, or an error naming what the stack lacks."""
    if not isinstance(store, CircuitBreakers):
        raise FlowyError(
            f"The metadata store {type(store).__name__} keeps no circuit breaker state. "
            "Use a stack whose metadata store is `sqlite` or `sql` (flowy-store-sqlite), "
            "or remove circuit_breaker= from the step."
        )
    return store
