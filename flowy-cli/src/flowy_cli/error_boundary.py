"""The CLI's error boundary: what an exception that reached the top means, in one paragraph.

Stores, the engine and plugins translate the faults they understand into
:class:`~flowy.kernel.errors.FlowyError` at their source; this is the net for
everything else, so that a fault of the machine or of a plugin is never
reported as "probably a bug in Flowy". An exception (and each exception it
was raised from) is classified, first match wins:

* a FlowyError: its own message;
* a full disk or quota, a permission refused, a read-only file system, an I/O
  error, too many open files (``OSError`` by ``errno``): what happened, to
  which file, and what to do;
* a damaged, full, read-only or unopenable database (``sqlite3`` errors and
  SQLAlchemy's wrappers of them): the database named through the metadata
  store whose method raised (``describe()``), and how to restore it;
* an ``ImportError`` raised inside a plugin's (or Flowy's) own code: the
  distribution whose code needed the module, and the ``pip install`` that
  provides it (its extra when the distribution declares one);
* a ``ValueError`` (pydantic's ValidationError is one) or ``TypeError`` raised
  while a plugin's component was being constructed: the component, its plugin
  and the option it names.

Only what is left is called a bug, naming the distribution whose code raised
it when that is a plugin (:mod:`flowy_cli.fault_owner` reads that from the
traceback). Tracebacks are shown with ``--debug`` only. A closed
standard output (``flowy runs list | head -1``) is not an error at all: see
:func:`output_closed`.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import PurePath

from flowy_cli import fault_owner

#: The exit code when the reader of our output went away: what a shell shows
#: for a program stopped by SIGPIPE (128 + 13), as for ``yes | head -1``.
CLOSED_PIPE_EXIT = 141

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED = {errno.EACCES, errno.EPERM}
_TOO_MANY_FILES = {errno.EMFILE, errno.ENFILE}
# SQLite's primary result codes (sqlite3 errors carry them as ``sqlite_errorcode``).
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL = 8, 10, 11, 13
_SQLITE_CANTOPEN, _SQLITE_NOTADB = 14, 26
_SQLITE_BY_MESSAGE = (  # for drivers and wrappers without the code
    ("database disk image is malformed", _SQLITE_CORRUPT),
    ("database is locked", _SQLITE_BUSY),
    ("file is not a database", _SQLITE_NOTADB),
    ("database or disk is full", _SQLITE_FULL),
    ("attempt to write a readonly database", _SQLITE_READONLY),
    ("unable to open database file", _SQLITE_CANTOPEN),
    ("disk i/o error", _SQLITE_IOERR),
)


def report(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` as one paragraph on stderr (its traceback with ``debug``); the exit code."""
    from flowy.kernel.errors import FlowyError

    from flowy_cli.output import print_error

    message = explain(exc)
    code = 1
    if isinstance(exc, FlowyError):
        code = int(getattr(exc, "exit_code", 1) or 1)
    if message is None:
        message = _bug_message(exc)
    with contextlib.suppress(OSError):  # stderr itself may be a closed pipe
        print_error(message)
        if debug:
            print_error("".join(traceback.format_exception(exc)), title="Traceback (--debug):")
    return code


def explain(exc: BaseException) -> str | None:
    """The message for an exception that is not a bug (see the module docstring), else None."""
    from flowy.kernel.errors import FlowyError

    if isinstance(exc, FlowyError):
        if isinstance(exc, OSError) and exc.strerror:  # not "[Errno 28] ..." before the message
            return exc.strerror
        return str(exc)
    chain = list(_chain(exc))
    for classify in (_os_fault, _database_fault, _import_fault, _option_fault):
        for link in chain:
            try:
                message = classify(link)
            except Exception:  # noqa: BLE001 - the net itself must never fail
                continue
            if message is not None:
                return message
    return None


def output_closed(exc: BaseException) -> bool:
    """Whether ``exc`` is our stdout or stderr having lost its reader (``| head``).

    A BrokenPipeError can also come from a pipe a plugin opened to another
    process: that one is a fault to report. On POSIX the two are told apart by
    polling our own descriptors (a pipe whose reader is gone polls as an
    error); elsewhere every broken pipe is taken to be our output's.
    """
    if not isinstance(exc, BrokenPipeError) and getattr(exc, "errno", None) != errno.EPIPE:
        return False
    try:
        import select

        poller = select.poll()
    except (ImportError, AttributeError):
        return True
    for fd in (1, 2):
        with contextlib.suppress(OSError, ValueError):
            poller.register(fd, select.POLLOUT)
    with contextlib.suppress(OSError):
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    return True


def silence_output() -> None:
    """Point stdout and stderr at the null device, so nothing fails at the final flush."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(devnull, stream.fileno())
        os.close(devnull)


# -- classifiers ----------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


def _os_fault(exc: BaseException) -> str | None:
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    path = _path_of(exc)
    at = f" {path}" if path else ""
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        return (
            f"No space left to write{at or ' a file'} ({reason}). Free space on that disk or "
            f"raise your quota{_gc_hint()}, then run the command again."
        )
    if exc.errno in _DENIED:
        return (
            f"Permission denied on{at or ' a file'} ({reason}). Give your user write access to "
            "it and its folder, or use a folder you may write to."
        )
    if exc.errno == errno.EROFS:
        return (
            f"Cannot write{at or ' a file'}: the file system is mounted read-only ({reason}). "
            "Remount it writable, or use a writable folder."
        )
    if exc.errno == errno.EIO:
        return (
            f"The disk reported an I/O error on{at or ' a file'} ({reason}). Check the disk "
            "(or the network mount), then run the command again."
        )
    if exc.errno in _TOO_MANY_FILES:
        return (
            f"Too many open files ({reason}). Raise the limit (`ulimit -n`) or run fewer steps "
            "at once (`--executor-option max_workers=N`)."
        )
    return None


def _path_of(exc: OSError) -> str | None:
    """The file an OSError is about: its ``filename``, else the file being written.

    A failed ``write`` (a full disk) carries no file name; the innermost frames
    that do know it hold the open file (``f.name``) or the path (``Path.write_text``).
    """
    names = [n for n in (exc.filename, exc.filename2) if n not in (None, "")]
    if names:
        return " and ".join(os.fsdecode(n) if isinstance(n, bytes) else str(n) for n in names)
    for frame in reversed(fault_owner.frames(exc)[-4:]):
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str):
                return str(value.name)  # type: ignore[attr-defined]
        owner = frame.f_locals.get("self")
        if isinstance(owner, PurePath):
            return str(owner)
    return None


def _database_fault(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    driver_error = orig if isinstance(orig, BaseException) else exc
    sqlite3 = sys.modules.get("sqlite3")
    code = getattr(driver_error, "sqlite_errorcode", None)
    if code is None and sqlite3 is not None and isinstance(driver_error, sqlite3.DatabaseError):
        text = str(driver_error).lower()
        code = next((c for pattern, c in _SQLITE_BY_MESSAGE if pattern in text), None)
    if code is None:
        return None
    primary = int(code) & 0xFF
    where = _database_name(exc) or "the metadata database"
    said = f"({driver_error})"
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return (
            f"The metadata database {where} is damaged or is not a SQLite database {said}. "
            f"Flowy cannot read it.{_doctor_hint()} Restore it from a backup, or move it aside "
            "and recover what SQLite can still read: "
            f"`sqlite3 MOVED.db .recover | sqlite3 {where}`."
        )
    if primary == _SQLITE_FULL:
        return (
            f"The metadata database {where} cannot grow: the disk is full {said}. Free space "
            f"on that disk{_gc_hint()} and run the command again."
        )
    if primary == _SQLITE_READONLY:
        return (
            f"The metadata database {where} is read-only {said}. Give your user write access "
            "to the file and its folder (SQLite writes -wal and -shm files beside it)."
        )
    if primary == _SQLITE_CANTOPEN:
        return (
            f"Cannot open the metadata database {where} {said}. Check that its folder exists "
            "and that you may write to it (SQLite writes -wal and -shm files beside it)."
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return (
            f"The metadata database {where} stayed locked by another process {said}. Let the "
            "other command on this store finish (or raise the store's busy_timeout option), "
            "then run again."
        )
    if primary == _SQLITE_IOERR:
        return (
            f"The disk reported an I/O error on the metadata database {where} {said}. Check "
            "that disk (free space, a network mount that went away) and run again."
        )
    return None


def _database_name(exc: BaseException) -> str | None:
    """The database file (or URL) of the metadata store whose method raised ``exc``."""
    contracts = sys.modules.get("flowy.kernel.contracts")
    store_type = getattr(contracts, "MetadataStore", None)
    for frame in reversed(fault_owner.frames(exc)):
        owner = frame.f_locals.get("self")
        if store_type is not None and isinstance(owner, store_type):
            url = str(owner.describe().get("url") or "")
            if url:
                return _sqlite_file(url)
    return None


def _sqlite_file(url: str) -> str:
    """``sqlite:////abs/x.db?mode=rw`` -> ``/abs/x.db``; other URLs unchanged."""
    match = re.fullmatch(r"sqlite(?:\+\w+)?:///([^?]+)(?:\?.*)?", url)
    return match.group(1) if match else url


def _import_fault(exc: BaseException) -> str | None:
    if not isinstance(exc, ImportError):
        return None
    owner = fault_owner.owner(exc, importing=True)
    if owner is None:
        return None
    dist, version, component = owner
    module = exc.name or "?"
    who = f"{dist} {version}" + (f" ({component})" if component else "")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (
            f"{who} needs the Python module {module!r}, which is not installed ({exc}). "
            f"Install it: `pip install {fault_owner.install_for(dist, module)}`, then run the "
            "command again."
        )
    return (
        f"{who} could not import what it needs from {module!r} ({exc}): the installed "
        f"{module.split('.')[0]} is probably a version {dist} does not support. Reinstall "
        f"{dist} with its requirements: `pip install --upgrade --force-reinstall {dist}`."
    )


def _option_fault(exc: BaseException) -> str | None:
    """A ValueError/TypeError raised by a plugin component's ``__init__``: a rejected option."""
    if not isinstance(exc, ValueError | TypeError):
        return None
    for frame in reversed(fault_owner.frames(exc)):  # innermost first
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name != "__init__" or owner is None:
            continue
        package = str(frame.f_globals.get("__name__")).split(".", maxsplit=1)[0]
        found = fault_owner.distributions_by_package().get(package)
        component = fault_owner.component_name("", type(owner)) if found else None
        if found is None or component is None:
            continue  # not a registered component's constructor
        option = fault_owner.option_named(exc, frame)
        named = f" (option {option!r})" if option else ""
        return (
            f"The {component} from {found[0]} {found[1]} rejected its options{named}: "
            f"{type(exc).__name__}: {exc}. Fix the option in the stack (`flowy stack describe` "
            "shows them, `flowy stack update` changes them) and run the command again."
        )
    return None


# -- helpers for messages -------------------------------------------------


def _bug_message(exc: BaseException) -> str:
    owner = None
    with contextlib.suppress(Exception):
        owner = fault_owner.owner(exc)
    culprit = "Flowy or a plugin"
    if owner is not None and owner[0] not in ("flowy-core", "flowy-cli"):
        culprit = f"the plugin {owner[0]} {owner[1]}" + (f" ({owner[2]})" if owner[2] else "")
    return (
        f"Unexpected {type(exc).__name__}: {exc}. This is probably a bug in {culprit}; "
        "re-run with `flowy --debug ...` to see the traceback and report it."
    )


def _has_command(name: str) -> bool:
    from flowy_cli.main import BUILTIN_COMMANDS

    return name in BUILTIN_COMMANDS


def _gc_hint() -> str:
    return " (`flowy gc` removes what killed runs left behind)" if _has_command("gc") else ""


def _doctor_hint() -> str:
    return (
        " `flowy doctor` checks the store and says what it can repair."
        if _has_command("doctor")
        else ""
    )
