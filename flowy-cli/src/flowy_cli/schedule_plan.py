"""Which pending due times of a schedule to start and which to skip: the catch-up policy.

Pure functions, so that the policy is one readable rule (and tested without a clock).

The pending due times of a schedule are those after its ``last_fire_at`` (or its
creation) up to now. Usually there is one. Several pile up when no scheduler ran
(downtime), or when a tick came late on a busy machine. A due time is *missed*
when it passed before the scheduler now ticking started.

* ``latest`` (the default): start the newest pending time; skip the older ones
  ("superseded").
* ``all``: start every pending time, oldest first. Without ``--allow-overlap`` they
  queue: the next one is claimed only once the previous run has ended, so none is
  dropped (a schedule whose runs take longer than its interval falls behind).
* ``none``: skip missed times; start the newest time that came due while this
  scheduler ran, if any.

Independently of the policy, a due time whose turn comes while a run of the same
schedule is still going is skipped ("overlap") unless the schedule allows overlap
(or, with ``all``, waits as said above).
"""

from __future__ import annotations

import attrs
from flowy.kernel.schedules import CATCHUP_ALL, CATCHUP_LATEST, CATCHUP_NONE


@attrs.define
class Plan:
    """Due times to start (oldest first) and to skip with their reason."""

    start: list[float] = attrs.field(factory=list)
    skip: list[tuple[float, str]] = attrs.field(factory=list)
    wait: list[float] = attrs.field(factory=list)
    """Due times left unclaimed for a later tick (``all`` while a run is going)."""


def plan(
    pending: list[float],
    policy: str,
    *,
    scheduler_started_at: float,
    running: bool,
    allow_overlap: bool,
) -> Plan:
    """Apply the catch-up policy and the overlap rule to ``pending`` (oldest first)."""
    result = Plan()
    if not pending:
        return result
    if policy == CATCHUP_ALL:
        if running and not allow_overlap:
            result.wait = list(pending)
        elif allow_overlap:
            result.start = list(pending)
        else:  # one at a time: the next is claimed when this run has ended
            result.start, result.wait = [pending[0]], list(pending[1:])
        return result
    candidates = pending
    if policy == CATCHUP_NONE:
        missed = [t for t in pending if t < scheduler_started_at]
        result.skip += [
            (t, "missed: it passed while no scheduler ran (catchup=none)") for t in missed
        ]
        candidates = [t for t in pending if t >= scheduler_started_at]
    elif policy != CATCHUP_LATEST:
        raise ValueError(f"unknown catch-up policy {policy!r}")
    if not candidates:
        return result
    *older, newest = candidates
    result.skip += [
        (t, f"superseded by the due time {_iso(newest)} (catchup={policy})") for t in older
    ]
    if running and not allow_overlap:
        result.skip.append((newest, "overlap: a run of this schedule was still running"))
    else:
        result.start.append(newest)
    return result


def _iso(t: float) -> str:
    """A due time as UTC ISO 8601 (for reasons and progress lines)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


iso = _iso
