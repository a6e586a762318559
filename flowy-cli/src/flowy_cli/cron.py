"""Cron expressions: checking them and listing their due times (croniter, imported on use).

Five fields are minute resolution (``0 3 * * *``); a sixth field is seconds, as
croniter reads it (``* * * * * */10`` is every ten seconds). Times are read in
the schedule's IANA time zone, so ``0 3 * * *`` in ``Europe/Paris`` stays at 03:00
local time across daylight-saving changes; due times are returned as seconds
since the epoch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowy.kernel.errors import FlowyError

#: Most due times listed in one call (a long downtime on a per-second schedule).
MAX_LISTED = 1000


def zone(name: str) -> Any:
    """The ``zoneinfo.ZoneInfo`` for ``name``; a FlowyError naming it when unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name or any(not ch.isprintable() for ch in name):
        raise FlowyError(f"Invalid time zone {name!r}: use an IANA name such as 'Europe/Paris'.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FlowyError(
            f"Unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris' "
            "(the tzdata package provides them where the system has none)."
        ) from exc


def check(cron: str, timezone: str = "UTC") -> str:
    """``cron`` if croniter accepts it (and ``timezone`` exists); a FlowyError saying why not."""
    from croniter import croniter

    zone(timezone)
    fields = cron.split()
    problem = None
    if any(not ch.isprintable() for ch in cron):
        problem = "it contains a non-printing character"
    elif len(fields) not in (5, 6):
        problem = f"it has {len(fields)} field(s), not 5 (minute hour day month weekday) or 6"
    else:
        try:
            croniter(cron)
        except (ValueError, KeyError) as exc:
            problem = str(exc) or type(exc).__name__
    if problem:
        raise FlowyError(
            f"Invalid cron expression {cron!r}: {problem}. Write five fields, minute hour "
            "day-of-month month day-of-week (`0 3 * * *` is 03:00 daily), or add a sixth for "
            "seconds (`* * * * * */10` is every ten seconds)."
        )
    return cron


def due_between(cron: str, timezone: str, after: float, until: float) -> list[float]:
    """The due times ``t`` with ``after < t <= until``, oldest first, at most MAX_LISTED."""
    from croniter import croniter

    it = croniter(cron, datetime.fromtimestamp(after, zone(timezone)))
    found: list[float] = []
    while len(found) < MAX_LISTED:
        t = float(it.get_next(float))
        if t > until:
            break
        if t > after:
            found.append(t)
    return found


def next_after(cron: str, timezone: str, after: float) -> float:
    """The first due time strictly after ``after``."""
    from croniter import croniter

    return float(croniter(cron, datetime.fromtimestamp(after, zone(timezone))).get_next(float))


def newest_until(cron: str, timezone: str, until: float) -> float:
    """The newest due time at or before ``until`` (past a long list :func:`due_between` cut)."""
    from croniter import croniter

    newest = float(croniter(cron, datetime.fromtimestamp(until, zone(timezone))).get_prev(float))
    following = next_after(cron, timezone, newest)
    return following if following <= until else newest
