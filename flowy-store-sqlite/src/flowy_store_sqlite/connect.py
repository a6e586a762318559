"""SQLite connections without SQLAlchemy: URLs, pragmas, WAL.

Both stores use these: :mod:`flowy_store_sqlite.database` applies them to
each connection SQLAlchemy opens, and :mod:`flowy_store_sqlite.sqlite`
opens its connection with them directly, so a ``flowy run`` or ``flowy runs
list`` on SQLite never imports SQLAlchemy (about 125 ms of start-up).

Transactions are ours: the driver runs in autocommit mode
(``isolation_level=None``) and callers emit ``BEGIN`` / ``BEGIN IMMEDIATE``
themselves, because the stdlib driver's own transaction handling commits
silently before DDL and never begins before SELECT.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

WAL_AUTOCHECKPOINT_PAGES = 4000
MEMORY = ":memory:"


def normalize_url(url: str) -> str:
    """Accept a SQLAlchemy URL, or a plain file path meaning a SQLite file."""
    if "://" in url:
        return url
    return "sqlite:///" + os.path.abspath(os.path.expanduser(url))


def sqlite_database(url: str) -> str | None:
    """The file (or ``:memory:``) a plain SQLite URL names; None for any other URL.

    Plain means what the stdlib driver opens as a path: ``sqlite:///rel``,
    ``sqlite:////abs``, ``sqlite://`` and ``sqlite:///:memory:``. URLs with a
    query string, a ``file:`` URI or another driver are left to SQLAlchemy.
    """
    for prefix in ("sqlite+pysqlite://", "sqlite://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            break
    else:
        return None
    if "?" in rest:
        return None
    if rest in ("", "/", "/" + MEMORY):
        return MEMORY
    if not rest.startswith("/"):
        return None  # sqlite://host/... is not a SQLite URL
    path = rest[1:]
    if path.startswith("file:"):
        return None
    return path


def open_sqlite(path: str, *, fsync: bool, busy_timeout: float) -> sqlite3.Connection:
    """A configured autocommit connection to the SQLite file at ``path`` (made if missing)."""
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
    )
    try:
        configure(conn, fsync=fsync, busy_timeout=busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def configure(conn: sqlite3.Connection, *, fsync: bool, busy_timeout: float) -> None:
    """WAL, busy timeout, synchronous level, checkpoint size and foreign keys."""
    conn.isolation_level = None  # we emit BEGIN ourselves, see the module docstring
    cursor = conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        set_wal(cursor, busy_timeout)
        cursor.execute(f"PRAGMA synchronous = {'FULL' if fsync else 'NORMAL'}")
        # Checkpoint every ~16 MB of WAL instead of 4 MB: each checkpoint fsyncs, and
        # at the default it landed on every ~80th record_step (mean cost -30%).
        cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def set_wal(cursor: sqlite3.Cursor, busy_timeout: float) -> None:
    """Switch to WAL, retrying while another process holds the lock.

    Two processes opening a brand-new database race to switch its journal mode,
    and SQLite can answer "database is locked" at once, without waiting on the
    busy timeout; so wait here, up to that same timeout.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
