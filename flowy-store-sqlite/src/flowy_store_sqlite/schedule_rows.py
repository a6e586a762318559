""":class:`flowy.kernel.schedules.ScheduleStore` for the SQL store (SQLite and PostgreSQL).

The one rule that matters, "a due time is started at most once", rests on the
primary key of ``schedule_fires`` (schedule, fire_at): :meth:`claim_fires`
inserts the due times and moves the schedule's ``last_fire_at`` in one write
transaction. On SQLite the transaction is ``BEGIN IMMEDIATE``, so writers are
serialised and the "is it taken?" read inside it is the truth; on PostgreSQL
(READ COMMITTED) two schedulers can still race to the same row, the loser's
INSERT hits the key, and it reads again: the time is then taken and left out.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import attrs
from flowy.kernel.schedules import (
    Schedule,
    ScheduleExistsError,
    ScheduleFire,
    ScheduleNotFoundError,
    SchedulerHeartbeat,
    ScheduleStore,
)
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from flowy_store_sqlite import schema as s

#: Attempts at claiming when a concurrent scheduler inserted one of the same times.
CLAIM_ATTEMPTS = 20

_sc = s.schedules.c
_sf = s.schedule_fires.c
_hb = s.scheduler_heartbeats.c
_FIRE_FIELDS = tuple(f.name for f in attrs.fields(ScheduleFire))
_FIRE_CHANGES = frozenset({"status", "run_id", "reason", "pid", "host", "log"})


def _schedule_row(schedule: Schedule) -> dict[str, Any]:
    row = attrs.asdict(schedule)
    row["params"] = json.dumps(schedule.params, sort_keys=True)
    row["paused"] = int(schedule.paused)
    row["allow_overlap"] = int(schedule.allow_overlap)
    return row


def _schedule(row: Any) -> Schedule:
    return Schedule(
        name=row["name"],
        pipeline=row["pipeline"],
        cron=row["cron"],
        timezone=row["timezone"],
        params=json.loads(row["params"] or "{}"),
        stack=row["stack"],
        workdir=row["workdir"],
        paused=bool(row["paused"]),
        allow_overlap=bool(row["allow_overlap"]),
        catchup=row["catchup"],
        created_at=row["created_at"],
        last_fire_at=row["last_fire_at"],
    )


def _fire(row: Any) -> ScheduleFire:
    return ScheduleFire(**{name: row[name] for name in _FIRE_FIELDS})


class ScheduleQueries(ScheduleStore):
    """Schedule, due-time and heartbeat rows (the capability itself, so a store with this
    mixin among its bases is a :class:`ScheduleStore`)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...
        def _write(self) -> AbstractContextManager[Connection]: ...

    # -- schedules -----------------------------------------------------------

    def add_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule; the primary key refuses a taken name."""
        exists = ScheduleExistsError(
            f"A schedule named {schedule.name!r} already exists. Choose another name, or "
            f"replace it: `flowy schedule remove {schedule.name}` first."
        )
        try:
            with self._write() as conn:
                if _find(conn, schedule.name) is not None:
                    raise exists
                conn.execute(insert(s.schedules), _schedule_row(schedule))
        except IntegrityError:  # a concurrent add won the name (PostgreSQL)
            raise exists from None

    def get_schedule(self, name: str) -> Schedule:
        with self._read() as conn:
            return _require(conn, name)

    def list_schedules(self) -> list[Schedule]:
        with self._read() as conn:
            rows = conn.execute(select(s.schedules).order_by(_sc.name)).mappings().all()
        return [_schedule(r) for r in rows]

    def set_schedule_paused(self, name: str, paused: bool, *, now: float) -> Schedule:
        with self._write() as conn:
            old = _require(conn, name)
            values: dict[str, Any] = {"paused": int(paused)}
            if not paused and old.paused:
                values["last_fire_at"] = max(old.last_fire_at or 0.0, now)
            conn.execute(update(s.schedules).where(_sc.name == name).values(**values))
            return _require(conn, name)

    def remove_schedule(self, name: str) -> int:
        with self._write() as conn:
            _require(conn, name)
            fires = conn.execute(delete(s.schedule_fires).where(_sf.schedule == name)).rowcount
            conn.execute(delete(s.schedules).where(_sc.name == name))
        return int(fires or 0)

    # -- due times -----------------------------------------------------------

    def claim_fires(self, name: str, fires: list[ScheduleFire]) -> list[ScheduleFire]:
        if not fires:
            return []
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                return self._claim_once(name, fires)
            except IntegrityError:
                if attempt == CLAIM_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _claim_once(self, name: str, fires: list[ScheduleFire]) -> list[ScheduleFire]:
        times = [f.fire_at for f in fires]
        with self._write() as conn:
            schedule = _require(conn, name)
            taken = set(
                conn.execute(
                    select(_sf.fire_at).where(_sf.schedule == name, _sf.fire_at.in_(times))
                ).scalars()
            )
            new = [f for f in fires if f.fire_at not in taken]
            if new:
                conn.execute(
                    insert(s.schedule_fires),
                    [{k: getattr(f, k) for k in _FIRE_FIELDS} | {"schedule": name} for f in new],
                )
            newest = max(times)
            if schedule.last_fire_at is None or newest > schedule.last_fire_at:
                conn.execute(
                    update(s.schedules).where(_sc.name == name).values(last_fire_at=newest)
                )
        return new

    def update_fire(self, name: str, fire_at: float, **changes: Any) -> None:
        unknown = set(changes) - _FIRE_CHANGES
        if unknown:
            raise TypeError(f"update_fire got unknown fields {sorted(unknown)}")
        with self._write() as conn:
            conn.execute(
                update(s.schedule_fires)
                .where(_sf.schedule == name, _sf.fire_at == fire_at)
                .values(**changes)
            )

    def schedule_fires(
        self,
        name: str | None = None,
        *,
        statuses: tuple[str, ...] | None = None,
        limit: int = 100,
    ) -> list[ScheduleFire]:
        query = select(s.schedule_fires).order_by(_sf.fire_at.desc(), _sf.schedule).limit(limit)
        if name is not None:
            query = query.where(_sf.schedule == name)
        if statuses is not None:
            query = query.where(_sf.status.in_(statuses))
        with self._read() as conn:
            return [_fire(r) for r in conn.execute(query).mappings()]

    def run_of_process(self, pid: int, host: str, since: float) -> tuple[str, str] | None:
        r = s.runs.c
        query = (
            select(r.run_id, r.status)
            .where(r.pid == pid, r.host == host, r.started_at >= since)
            .order_by(r.started_at)
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.run_id, row.status)

    # -- heartbeats ----------------------------------------------------------

    def beat(self, heartbeat: SchedulerHeartbeat) -> None:
        row = attrs.asdict(heartbeat)
        with self._write() as conn:
            changed = conn.execute(
                update(s.scheduler_heartbeats)
                .where(_hb.scheduler_id == heartbeat.scheduler_id)
                .values(heartbeat_at=heartbeat.heartbeat_at)
            ).rowcount
            if not changed:
                conn.execute(insert(s.scheduler_heartbeats), row)

    def end_heartbeat(self, scheduler_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(s.scheduler_heartbeats).where(_hb.scheduler_id == scheduler_id))

    def scheduler_heartbeats(self) -> list[SchedulerHeartbeat]:
        query = select(s.scheduler_heartbeats).order_by(_hb.heartbeat_at.desc())
        with self._read() as conn:
            return [SchedulerHeartbeat(**dict(r)) for r in conn.execute(query).mappings()]


def _find(conn: Connection, name: str) -> Schedule | None:
    row = conn.execute(select(s.schedules).where(_sc.name == name)).mappings().first()
    return None if row is None else _schedule(row)


def _require(conn: Connection, name: str) -> Schedule:
    found = _find(conn, name)
    if found is not None:
        return found
    known = list(conn.execute(select(_sc.name).order_by(_sc.name).limit(20)).scalars())
    hint = f" Known schedules: {', '.join(known)}." if known else " No schedule exists yet."
    raise ScheduleNotFoundError(
        f"No schedule named {name!r}.{hint} Add one with `flowy schedule add NAME FILE.py "
        "--cron ...`; `flowy schedule list` shows them."
    )
