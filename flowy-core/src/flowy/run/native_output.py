"""What a step writes to descriptors 1 and 2 itself, captured into its attempt's logs.

:func:`flowy.run.worker.execute_attempt` sends Python's ``sys.stdout``,
``sys.stderr`` and ``logging`` to the attempt's log, but native code (a C or
C++ extension such as TensorFlow, ``ctypes``, a child process that inherits
the descriptors) writes to descriptors 1 and 2 directly. While an attempt runs,
:class:`Capture` points those two descriptors at a temporary file of this
process (made once, emptied for each attempt) and puts them back afterwards,
whatever ends the attempt; the :class:`AttemptLog` copies what lands in the
file into the log, in order with the Python-level output: before each
Python-level write it reads what native code wrote since (one ``fstat``), and
at the end of the attempt it reads the rest. C's own stdio buffers are flushed
on both sides of the attempt, so ``printf`` output lands on the right side too.

The file is read in chunks, so capturing costs no memory beyond the text the
log keeps. Descriptors belong to the process, not to a thread: when one
process runs several attempts at once in threads (a Dask worker with several
threads), what native code writes while they overlap is in each of their logs.
A forked child starts its own captures, with its own file.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from flowy.run import fork_streams  # noqa: F401 - registers the fork hook captures rely on

#: Bytes read from the capture file at a time (what capturing may hold besides the log).
CHUNK = 1 << 20


class AttemptLog(io.StringIO):
    """An attempt's log: Python-level writes, with native output merged in as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._native = -1  # the capture file while an attempt captures, else -1
        self._read_upto = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._reading = threading.Lock()
        self.tap: Callable[[str], None] | None = None
        """Also given every piece of text the log takes, while an attempt runs with
        ``on_output`` (:class:`flowy.run.live_output.LiveOutput`); None: no cost."""

    def write(self, s: str) -> int:
        if self._native >= 0:
            self.catch_up()
        n = super().write(s)
        if self.tap is not None:
            self.tap(s)
        return n

    def _take(self, text: str) -> None:
        """Native output into the log (and the tap)."""
        super().write(text)
        if self.tap is not None and text:
            self.tap(text)

    def catch_up(self) -> None:
        """Copy into the log what native code wrote since the last look."""
        fd = self._native
        if fd < 0 or os.fstat(fd).st_size <= self._read_upto:
            return
        with self._reading:
            end = os.fstat(fd).st_size
            while self._read_upto < end:
                chunk = os.pread(fd, min(end - self._read_upto, CHUNK), self._read_upto)
                if not chunk:
                    break
                self._read_upto += len(chunk)
                self._take(self._decoder.decode(chunk))

    def _begin(self, fd: int, offset: int) -> None:
        self._read_upto = offset
        self._native = fd

    def _finish(self) -> None:
        try:
            self.catch_up()
            self._take(self._decoder.decode(b"", final=True))
        finally:
            self._native = -1


class _State:
    """This process's capture file and the descriptors it replaced (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.fd = -1
        self.depth = 0  # attempts capturing now
        self.saved: list[int | None] = [None, None]  # fds 1 and 2 as they were, or None


_state = _State()


def _new_lock_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy held forever.
    _state.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


class Capture:
    """Capture descriptors 1 and 2 into ``log`` for the ``with`` block (see the module).

    The descriptors are restored when the block ends, however it ends: a
    failing step, ``SystemExit``, Ctrl-C. Nested and concurrent captures in one
    process share the redirection; the last to end restores it. Where a capture
    cannot be set up (no temporary directory, no free descriptor), the block
    runs without it.
    """

    __slots__ = ("fd", "log")

    def __init__(self, log: AttemptLog) -> None:
        self.log = log
        self.fd = -1

    def __enter__(self) -> None:
        if not hasattr(os, "pread"):  # POSIX only
            return
        with _state.lock:
            if _state.pid != os.getpid():
                _forget_parents()
            try:
                offset = _start() if _state.depth == 0 else os.fstat(_state.fd).st_size
            except OSError:
                return
            _state.depth += 1
            self.fd = _state.fd
            self.log._begin(self.fd, offset)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.fd < 0:
            return
        try:
            _flush_all()
            self.log._finish()
        finally:
            with _state.lock:
                _state.depth -= 1
                if _state.depth == 0:
                    _stop()


def _forget_parents() -> None:
    """In a forked child: the capture file and state are the parent's; start afresh."""
    if _state.fd >= 0:
        with contextlib.suppress(OSError):
            os.close(_state.fd)  # our copy only; the parent's stays open
    for saved in _state.saved:
        if saved is not None:
            with contextlib.suppress(OSError):
                os.close(saved)
    _state.pid, _state.fd, _state.depth, _state.saved = os.getpid(), -1, 0, [None, None]


def _start() -> int:
    """Point descriptors 1 and 2 at this process's (emptied) capture file; returns 0."""
    if _state.fd < 0:
        _state.fd = _open_file()
    _flush_all()  # what was printed before the attempt goes where it was going
    _empty(_state.fd)
    saved = _state.saved
    try:
        for target in (1, 2):
            saved[target - 1] = _dup(target)
            os.dup2(_state.fd, target)
    except BaseException:
        _stop()
        raise
    return 0


def _stop() -> None:
    """Put descriptors 1 and 2 back as :func:`_start` found them; never leaves one open."""
    saved = _state.saved
    try:
        _restore(1, saved[0])
    finally:
        saved[0] = None
        try:
            _restore(2, saved[1])
        finally:
            saved[1] = None
            with contextlib.suppress(OSError):
                _empty(_state.fd)  # give back the disk a long step's output used


def _empty(fd: int) -> None:
    if fd >= 0 and os.fstat(fd).st_size:  # (an fstat costs a third of an ftruncate)
        os.ftruncate(fd, 0)


def _restore(target: int, saved: int | None) -> None:
    if saved is None:  # it was closed before (or never replaced)
        with contextlib.suppress(OSError):
            if _state.fd >= 0 and os.path.samestat(os.fstat(target), os.fstat(_state.fd)):
                os.close(target)
        return
    try:
        os.dup2(saved, target)
    finally:
        os.close(saved)


def _dup(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:  # closed in this process: closed again afterwards
        return None


def _open_file() -> int:
    fd, path = tempfile.mkstemp(prefix="flowy-output-")
    try:
        os.unlink(path)
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _flush_all() -> None:
    """Flush Python's and C's buffered standard streams to their descriptors."""
    streams = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    for n, stream in enumerate(streams):
        if stream is not None and stream not in streams[:n]:
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - closed, or a reader gone: nothing to keep
                pass
    fflush = _c_fflush()
    if fflush is not None:
        fflush(None)


@functools.cache
def _c_fflush() -> Any:
    """C's ``fflush`` (``fflush(NULL)`` flushes every C stream), or None where there is none."""
    try:
        import ctypes

        return ctypes.CDLL(None).fflush
    except (ImportError, OSError, AttributeError):
        return None


def point_outside(target: int, fd: int) -> None:
    """Point descriptor ``target`` (1 or 2) at ``fd`` for this process outside attempts.

    While attempts capture, ``target`` is the capture file: the descriptor they
    will restore is pointed at ``fd`` instead, so that restoring it ends there
    (``flowy run | head``: the stdout whose reader left becomes ``os.devnull``).
    """
    with _state.lock:
        capturing = _state.depth > 0 and _state.pid == os.getpid()
        saved = _state.saved[target - 1] if capturing else None
        os.dup2(fd, saved if saved is not None else target)
