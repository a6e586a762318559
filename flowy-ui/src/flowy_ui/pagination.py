"""Keyset pagination of runs: newest first, by ``(started_at, run_id)``.

The cursor is opaque to clients: URL-safe base64 of ``[started_at, run_id]`` of
the last run of the page before. A page holds the runs strictly after it in the
order ``started_at DESC, run_id DESC`` (the metadata store's own order), so pages
never repeat or skip a run, even while new runs start.

The store's read API lists the newest runs up to a limit; a page past the first
asks for a growing window until it passes the cursor (cost grows with the
page's depth). A store-level ``started_at < ?`` query is the follow-up for very
large stores.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable

from flowy.kernel.errors import FlowyError
from flowy.kernel.records import RunRecord

Cursor = tuple[float, str]


class CursorError(FlowyError):
    """A cursor this server did not make."""


def encode(run: RunRecord) -> str:
    raw = json.dumps([run.started_at, run.run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, run_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise CursorError(f"cursor {cursor[:40]!r} is not one this server returned") from exc
    if (
        not isinstance(started_at, int | float)
        or isinstance(started_at, bool)
        or not math.isfinite(started_at)
        or not isinstance(run_id, str)
    ):
        raise CursorError(f"cursor {cursor[:40]!r} is not one this server returned")
    return float(started_at), run_id


def _key(run: RunRecord) -> Cursor:
    return (run.started_at, run.run_id)


def after(run: RunRecord, cursor: Cursor | None) -> bool:
    """Whether ``run`` comes after ``cursor`` in newest-first order."""
    return cursor is None or _key(run) < cursor


def page(
    fetch: Callable[[int], list[RunRecord]],
    limit: int,
    cursor: Cursor | None,
    keep: Callable[[RunRecord], bool] = lambda run: True,
) -> tuple[list[RunRecord], bool]:
    """The ``limit`` runs after ``cursor`` that ``keep`` accepts, and whether more follow.

    ``fetch(n)`` returns the newest ``n`` runs, newest first.
    """
    window = limit + 1 if cursor is None else max(4 * (limit + 1), 200)
    while True:
        fetched = sorted(fetch(window), key=_key, reverse=True)  # whatever the store's ties
        chosen = [r for r in fetched if after(r, cursor) and keep(r)]
        if len(chosen) > limit or len(fetched) < window:
            return chosen[:limit], len(chosen) > limit
        window *= 4
