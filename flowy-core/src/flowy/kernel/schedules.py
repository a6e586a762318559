"""Schedules: what ``flowy scheduler`` starts, when, and what became of each due time.

A store capability apart from :class:`~flowy.kernel.contracts.MetadataStore`, like
:class:`~flowy.kernel.catalog.Catalog`: a store that only records runs stays valid,
and :func:`schedules_of` says plainly when a stack's store cannot keep schedules.

The rule that keeps a due time from running twice lives in the store: each due
time of a schedule is one row of ``schedule_fires`` whose primary key is
(schedule, fire_at), inserted in one write transaction with the schedule's
``last_fire_at`` (:meth:`ScheduleStore.claim_fires`). A scheduler starts a run
only for a time it claimed, so a restarted scheduler, or a second one on the same
store, finds the time taken and leaves it alone.

Statuses of a due time (``ScheduleFire.status``):

* ``claimed``: a scheduler (``pid`` on ``host``) holds it and is starting its run;
* ``started``: its ``flowy run`` process (``pid`` on ``host``) was started; ``run_id``
  is filled in once the run has recorded itself;
* ``finished``: its process has ended; the run (``run_id``) says how it went;
* ``skipped``: not run, ``reason`` says why (a run of the schedule was still going,
  a later due time superseded it, it passed while no scheduler ran);
* ``failed``: its process could not be started or ended before recording a run, or
  the scheduler holding the claim died before starting it (``reason``).
"""

from __future__ import annotations

import abc
import unicodedata
from typing import Any

import attrs

from flowy.kernel.errors import FlowyError

CLAIMED = "claimed"
STARTED = "started"
FINISHED = "finished"
SKIPPED = "skipped"
FAILED = "failed"
FIRE_STATUSES = (CLAIMED, STARTED, FINISHED, SKIPPED, FAILED)

#: Catch-up policies (what to do with due times that pile up while no scheduler ran).
CATCHUP_LATEST = "latest"
CATCHUP_ALL = "all"
CATCHUP_NONE = "none"
CATCHUP_POLICIES = (CATCHUP_LATEST, CATCHUP_ALL, CATCHUP_NONE)

#: Longest schedule name (the column is 255 wide; names also become log folder names).
NAME_LIMIT = 128


class ScheduleNotFoundError(FlowyError):
    """No schedule of that name in the store."""


class ScheduleExistsError(FlowyError):
    """A schedule of that name is already in the store."""


@attrs.define
class Schedule:
    """One schedule as the store keeps it."""

    name: str
    pipeline: str
    """What ``flowy run`` is given: an absolute ``FILE.py[:PIPELINE]``."""
    cron: str
    """Five fields (minute resolution) or six (a sixth for seconds), as croniter reads them."""
    timezone: str = "UTC"
    """The IANA zone the cron expression is read in."""
    params: dict[str, str] = attrs.field(factory=dict)
    """``--param`` values as typed (``flowy run`` converts them by the steps' annotations)."""
    stack: str | None = None
    """The stack the runs use (also the store the schedule lives in)."""
    workdir: str | None = None
    """The directory the run starts in (the pipeline's project)."""
    paused: bool = False
    allow_overlap: bool = False
    catchup: str = CATCHUP_LATEST
    created_at: float = 0.0
    last_fire_at: float | None = None
    """The newest due time handled (claimed, skipped or failed); due times after it are next."""


@attrs.define
class ScheduleFire:
    """One due time of a schedule and what became of it."""

    schedule: str
    fire_at: float
    status: str
    claimed_at: float = 0.0
    run_id: str | None = None
    reason: str | None = None
    pid: int | None = None
    """The scheduler's pid while ``claimed``; the ``flowy run`` process's once ``started``."""
    host: str | None = None
    log: str | None = None
    """The file the run's output went to."""


@attrs.define
class SchedulerHeartbeat:
    """A scheduler process alive on the store (its last tick)."""

    scheduler_id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


def check_schedule_name(name: object) -> str:
    """``name`` if it can name a schedule; a FlowyError saying what is wrong otherwise.

    Names show in tables and become a folder of log files: printable ASCII
    letters, digits, ``_``, ``-`` and ``.``, not starting with ``-`` or ``.``.
    """
    allowed = (
        "use ASCII letters, digits, '_', '-' and '.', starting with a letter, digit or '_', "
        f"at most {NAME_LIMIT} characters (for example 'nightly-train')"
    )
    if not isinstance(name, str) or not name:
        raise FlowyError(f"Invalid schedule name {name!r}: it is empty; {allowed}.")
    for ch in name:
        if unicodedata.category(ch).startswith("C"):
            raise FlowyError(
                f"Invalid schedule name {name!r}: it contains the non-printing character "
                f"U+{ord(ch):04X}; {allowed}."
            )
    if len(name) > NAME_LIMIT:
        raise FlowyError(f"Invalid schedule name {name[:40]!r}...: too long; {allowed}.")
    bad = [ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "_-."))]
    if bad or name[0] in "-." or ".." in name:
        what = f"it contains {bad[0]!r}" if bad else f"it starts with {name[0]!r} or holds '..'"
        raise FlowyError(f"Invalid schedule name {name!r}: {what}; {allowed}.")
    return name


class ScheduleStore(abc.ABC):
    """Schedules, their due times and scheduler heartbeats in a metadata store."""

    @abc.abstractmethod
    def add_schedule(self, schedule: Schedule) -> None:
        """Store a new schedule; ScheduleExistsError when the name is taken."""

    @abc.abstractmethod
    def get_schedule(self, name: str) -> Schedule:
        """One schedule; ScheduleNotFoundError naming the known ones when absent."""

    @abc.abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""

    @abc.abstractmethod
    def set_schedule_paused(self, name: str, paused: bool, *, now: float) -> Schedule:
        """Pause or resume. Resuming moves ``last_fire_at`` to ``now``: the time a
        schedule spent paused is not caught up."""

    @abc.abstractmethod
    def remove_schedule(self, name: str) -> int:
        """Delete a schedule and its due-time history (its runs stay); return the
        number of due-time rows deleted."""

    @abc.abstractmethod
    def claim_fires(self, name: str, fires: list[ScheduleFire]) -> list[ScheduleFire]:
        """Insert each due time not yet taken, and advance ``last_fire_at``, in ONE
        write transaction; return the fires this call inserted (the claimed ones).

        A time another scheduler already holds is left out of the result: the
        caller must not start it.
        """

    @abc.abstractmethod
    def update_fire(self, name: str, fire_at: float, **changes: Any) -> None:
        """Change a due time's ``status``, ``run_id``, ``reason``, ``pid``, ``host`` or ``log``."""

    @abc.abstractmethod
    def schedule_fires(
        self,
        name: str | None = None,
        *,
        statuses: tuple[str, ...] | None = None,
        limit: int = 100,
    ) -> list[ScheduleFire]:
        """Due times, newest first, of one schedule (or all), optionally by status."""

    @abc.abstractmethod
    def run_of_process(self, pid: int, host: str, since: float) -> tuple[str, str] | None:
        """(run id, status) of the run a ``flowy run`` process ``pid`` on ``host`` recorded
        at or after ``since``; None while it has recorded none."""

    @abc.abstractmethod
    def beat(self, heartbeat: SchedulerHeartbeat) -> None:
        """Write (insert or update) a scheduler's heartbeat."""

    @abc.abstractmethod
    def end_heartbeat(self, scheduler_id: str) -> None:
        """Remove a scheduler's heartbeat (it stopped cleanly)."""

    @abc.abstractmethod
    def scheduler_heartbeats(self) -> list[SchedulerHeartbeat]:
        """Every recorded scheduler heartbeat, newest first."""


def schedules_of(store: Any) -> ScheduleStore:
    """The store as a :class:`ScheduleStore`, or an error naming what the stack lacks."""
    if not isinstance(store, ScheduleStore):
        raise FlowyError(
            f"The metadata store {type(store).__name__} cannot keep schedules. Use a stack "
            "whose metadata store is `sqlite` or `sql` (flowy-store-sqlite)."
        )
    return store
