"""Faults of the metadata database's environment, as errors that say what to do.

A damaged database file, a full disk or one malformed value in a row is not a
bug in Flowy, yet each used to end as "Unexpected DatabaseError ... probably a
bug in Flowy". Both stores translate them here, at the few places where they
talk to the driver, into :class:`~flowy.kernel.errors.FlowyError` subclasses whose
message names the file (or the table and row) and what to do.

A failed write (disk full, I/O error) is also an :class:`OSError` with its
``errno``: the engine knows no store, and tells an environment fault from a
bug by that (it then records the step as failed with this reason and removes
the artifact files the lost commit would have recorded).

Kept free of SQLAlchemy: the stdlib store uses it on every run.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from flowy.kernel.errors import FlowyError

# SQLite's primary result codes (an extended code carries one in its low byte).
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
#: PostgreSQL's SQLSTATE for "disk full".
PG_DISK_FULL = "53100"


class DamagedDatabaseError(FlowyError):
    """The metadata database file is not a SQLite database, or its pages are corrupt."""


class DatabaseStorageError(FlowyError, OSError):
    """The metadata database could not be written or read: disk full, I/O error.

    ``errno`` is ENOSPC for a full disk, EIO otherwise.
    """


class MalformedRowError(FlowyError):
    """A row of the metadata database holds a value that cannot be decoded."""

    def __init__(self, table: str, row: str, column: str, reason: str, repair: str) -> None:
        self.table, self.row, self.column, self.reason = table, row, column, reason
        super().__init__(
            f"The metadata database holds a malformed value in column {column!r} of table "
            f"{table!r} ({row}): {reason}. Flowy cannot read that row. Repair the cell with "
            f"the sqlite3 shell (for example: {repair}) or restore the database from a backup."
        )


class MalformedCacheEntryWarning(UserWarning):
    """A cache entry (or an artifact row it points to) could not be decoded: a cache miss."""


def database_name(url: str) -> str:
    """The file a plain SQLite URL names (what a user can look at), else ``url`` masked.

    Any other URL is shown through :func:`flowy.kernel.redact.mask_text`, so a password in
    it (``postgresql://u:pw@h``, ``sqlite:///x.db?password=``) never reaches a message.
    """
    from flowy.kernel.redact import mask_text

    from flowy_store_sqlite import connect

    path = connect.sqlite_database(url)
    return mask_text(url) if path is None or path == connect.MEMORY else path


def translate(exc: BaseException, url: str) -> FlowyError | None:
    """The user-facing error for a driver error ``exc`` on the database at ``url``, or None.

    ``url`` is shown with its credentials masked (:func:`database_name`).

    None for anything that is not an environment fault (a constraint, a
    programming error): those stay as they are. SQLAlchemy's wrappers are
    looked through (``exc.orig``).
    """
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    where = database_name(url)
    if code is None:
        if getattr(orig, "sqlstate", None) == PG_DISK_FULL:
            return DatabaseStorageError(errno.ENOSPC, _full(where, orig))
        return None
    primary = code & 0xFF
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return DamagedDatabaseError(
            f"The metadata database {where} is damaged or is not a SQLite database ({orig}). "
            "Flowy cannot use it. Restore it from a backup, or move it aside and recover what "
            f"SQLite can still read: `sqlite3 MOVED.db .recover | sqlite3 {where}`."
        )
    if primary == SQLITE_FULL:
        return DatabaseStorageError(errno.ENOSPC, _full(where, orig))
    if primary == SQLITE_IOERR:
        return DatabaseStorageError(
            errno.EIO,
            f"Could not read or write the metadata database {where}: {orig}. Check that disk "
            "(free space, permissions, a network mount that went away) and run again.",
        )
    if primary == SQLITE_CANTOPEN:
        return DatabaseStorageError(
            errno.EACCES,
            f"Cannot open the metadata database {where}: {orig}. Check that its folder exists "
            "and that you may write to it (SQLite also writes -wal and -shm files beside it).",
        )
    return None


def check(exc: BaseException, url: str) -> None:
    """Raise :func:`translate`'s error for ``exc`` (chained to it) when there is one."""
    found = translate(exc, url)
    if found is not None:
        raise found from exc


def _full(where: str, orig: BaseException) -> str:
    return (
        f"Could not write the metadata database {where}: the disk is full ({orig}). Free space "
        "on that disk (`flowy gc` removes unreferenced artifact files) and run again."
    )


def row_label(table: str, row: Mapping[str, Any]) -> tuple[str, str]:
    """How a row is named in a message, and the SQL ``WHERE`` that selects it."""
    if table == "step_runs":
        label = f"step {row.get('step')!r} of run {row.get('run_id')}"
        if row.get("id") is not None:
            return label, f"id = {row['id']}"
        return label, f"run_id = '{row.get('run_id')}' AND step = '{row.get('step')}'"
    column = {"runs": "run_id", "artifacts": "artifact_id", "cache_entries": "key"}[table]
    return f"{column} {row.get(column)!r}", f"{column} = '{row.get(column)}'"
