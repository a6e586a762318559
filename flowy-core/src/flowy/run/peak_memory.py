"""The peak resident memory of this process while one step attempt runs.

Two ways, chosen per attempt by :class:`PeakWatch`:

- **reset** (a process that exists to run steps: a pool worker, a forked child, a
  Dask worker, a SageMaker job): the kernel's high-water mark (``VmHWM``) is reset
  when the attempt starts (``/proc/self/clear_refs``) and read when it ends. Exact,
  and an earlier step's peak does not show.
- **watch** (the orchestrating process, which runs steps in-process in sequential
  mode): its high-water mark is left alone, because whoever watches that process
  (``wait4``'s ``ru_maxrss``, a memory test, a benchmark) must still see its true
  lifetime peak. When the mark rose during the attempt, the new mark is the
  attempt's peak (exact); otherwise a helper thread has sampled the resident size
  every :data:`INTERVAL` seconds while the attempt ran, and the largest sample (or
  the size at either end) is the peak: a spike shorter than the interval that
  stayed under an earlier step's peak can be missed. The thread runs only while
  such an attempt does.

Without ``/proc`` (macOS) the process's lifetime peak from ``getrusage``, an upper
bound; without ``resource`` (Windows) nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time

try:
    import resource as _resource
except ImportError:  # Windows
    _resource = None  # type: ignore[assignment]

#: Seconds between resident-size samples while a watched attempt runs.
INTERVAL = 0.05
#: Seconds the sampling thread waits for another attempt before it ends.
LINGER = 1.0
#: ``ru_maxrss`` is in kilobytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux 4.0+); False where that is refused."""
    try:
        fd = os.open("/proc/self/clear_refs", os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, b"5")
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def read_proc(path: str) -> bytes | None:
    """A small ``/proc`` file's text in one ``read`` (no Python file object), or None.

    Every step attempt reads a few of these; a raw descriptor costs a third of an
    ``open()`` with its buffer and text layers.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)


def _status_kib(text: bytes, field: bytes) -> int | None:
    start = text.find(field)
    if start < 0:
        return None
    try:
        return int(text[start + len(field) : text.index(b"kB", start)])
    except ValueError:
        return None


def memory_now() -> tuple[int | None, int]:
    """``(VmHWM, VmRSS)`` of this process in bytes from one ``/proc/self/status`` read.

    ``(None, 0)`` without ``/proc``.
    """
    text = read_proc("/proc/self/status")
    if text is None:
        return None, 0
    mark, rss = _status_kib(text, b"VmHWM:"), _status_kib(text, b"VmRSS:")
    return (None if mark is None else mark * 1024), (rss or 0) * 1024


def high_water() -> int | None:
    """``VmHWM`` of this process in bytes, or None without ``/proc``."""
    return memory_now()[0]


def resident() -> int:
    """The resident size of this process now, in bytes (0 without ``/proc``)."""
    text = read_proc("/proc/self/statm")
    try:
        return int(text.split()[1]) * _PAGE if text else 0
    except (ValueError, IndexError):
        return 0


def lifetime_peak() -> int | None:
    if _resource is None:
        return None
    return int(_resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss) * _MAXRSS_UNIT


class PeakWatch:
    """The peak RSS from construction to :meth:`stop` (see the module docstring).

    ``reset``: whether this attempt may reset the high-water mark (a process that runs
    steps, and no other attempt in it running now).
    """

    __slots__ = ("_most", "_reset", "_start")

    def __init__(self, reset: bool) -> None:
        self._reset = reset and reset_peak()
        self._start, self._most = memory_now()
        if not self._reset and self._start is not None:
            _sampler.watch(self)

    def observe(self, size: int) -> None:
        self._most = max(self._most, size)

    def stop(self) -> int | None:
        _sampler.unwatch(self)
        end, now = memory_now()
        if end is None or self._start is None:
            return lifetime_peak()
        if self._reset or end > self._start:
            return end
        return max(self._most, now)


class _Sampler:
    """One helper thread sampling the resident size for every watched attempt.

    The thread waits up to :data:`LINGER` seconds for the next watched attempt
    before it ends: a chain of short in-process steps reuses one thread instead
    of starting one per step (a thread start costs more than the rest of the meter).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.watched: set[PeakWatch] = set()
        self.thread: threading.Thread | None = None

    def watch(self, watch: PeakWatch) -> None:
        with self.lock:
            self.watched.add(watch)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="flowy-rss", daemon=True)
                self.thread.start()
            else:
                self.wake.notify()

    def unwatch(self, watch: PeakWatch) -> None:
        with self.lock:
            self.watched.discard(watch)

    def _loop(self) -> None:
        while True:
            with self.lock:
                if not self.watched:
                    # Idle: wait for the next attempt a while, then end (a watch starts one).
                    self.wake.wait(LINGER)
                    if not self.watched:
                        self.thread = None
                        return
                watched = list(self.watched)
            size = resident()
            for watch in watched:
                watch.observe(size)
            time.sleep(INTERVAL)


_sampler = _Sampler()


def _forget_after_fork() -> None:
    """A forked child has no sampler thread and watches nothing of its parent's."""
    global _sampler
    _sampler = _Sampler()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
