"""Keyset pagination of runs: newest first, by ``(started_at, run_id)``; sorted cursors.

The cursor is opaque to clients: URL-safe base64 of ``[started_at, run_id]`` of
the last run of the page before. A page holds the runs strictly after it in the
order ``started_at DESC, run_id DESC`` (the metadata store's own order), so pages
never repeat or skip a run, even while new runs start.

The store's read API lists the newest runs up to a limit; a page past the first
asks for a growing window until it passes the cursor (cost grows with the
page's depth). The runs list itself pages in the store
(``MetadataStore.search_runs``): its cursors (:func:`encode_key`) hold the sort
they were made for and the last run's sort key, the sort value included.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any

from flowy.kernel.errors import FlowyError
from flowy.kernel.records import RunRecord
from flowy.kernel.run_query import Sort, field_kind

Cursor = tuple[float, str]


class CursorError(FlowyError):
    """A cursor this server did not make."""


def encode_pair(when: float, ident: str) -> str:
    """An opaque cursor for a ``(time, id)`` key: URL-safe base64 of ``[when, ident]``."""
    raw = json.dumps([when, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_pair(cursor: str) -> Cursor:
    """The ``(time, id)`` key of a cursor :func:`encode_pair` made; CursorError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, ident = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise CursorError(f"cursor {cursor[:40]!r} is not one this server returned") from exc
    if (
        not isinstance(when, int | float)
        or isinstance(when, bool)
        or not math.isfinite(when)
        or not isinstance(ident, str)
    ):
        raise CursorError(f"cursor {cursor[:40]!r} is not one this server returned")
    return float(when), ident


def encode(run: RunRecord) -> str:
    return encode_pair(run.started_at, run.run_id)


def decode(cursor: str) -> Cursor:
    return decode_pair(cursor)


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


# -- cursors of the sorted runs list (MetadataStore.search_runs) -------------------


def encode_key(sort: Sort, key: tuple[Any, ...]) -> str:
    """An opaque cursor holding the sort it belongs to and the last run's sort key.

    The key holds the sort value itself (a metric, a parameter, a duration), then
    ``started_at`` and the run id: the store resumes strictly after it.
    """
    order = "desc" if sort.descending else "asc"
    raw = json.dumps({"s": sort.field, "o": order, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str, sort: Sort) -> tuple[Any, ...]:
    """The sort key in a cursor from :func:`encode_key`; CursorError when it is not one
    this server made or was made for another sort."""
    bad = CursorError(f"cursor {cursor[:40]!r} is not one this server returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise bad from exc
    if not isinstance(found, dict) or not isinstance(found.get("k"), list):
        raise bad
    order = "desc" if sort.descending else "asc"
    if found.get("s") != sort.field or found.get("o") != order:
        raise CursorError(
            f"cursor {cursor[:40]!r} belongs to the sort {found.get('s')!r} "
            f"{found.get('o')!r}, not {sort.field!r} {order!r}: start again without a cursor"
        )
    key = tuple(found["k"])
    if not _key_fits(key, sort.field):
        raise bad
    return key


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _number_or_none(value: Any) -> bool:
    return value is None or _number(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _key_fits(key: tuple[Any, ...], field: str) -> bool:
    """Whether ``key`` has the shape of a sort key of ``field`` (see flowy.kernel.run_query)."""
    kind = field_kind(field)
    lead: list[Callable[[Any], bool]]
    if field == "started":
        lead = []
    elif kind == "text":
        lead = [_text_or_none]
    elif kind == "param":
        lead = [_number_or_none, _text_or_none]
    else:
        lead = [_number_or_none]
    checks = [*lead, _number, _is_text]
    return len(key) == len(checks) and all(check(v) for check, v in zip(checks, key, strict=True))
