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
#: ``ru_maxrss`` is in kilobytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux 4.0+); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def high_water() -> int | None:
    """``VmHWM`` of this process in bytes, or None without ``/proc``."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident() -> int:
    """The resident size of this process now, in bytes (0 without ``/proc``)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
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
        self._start = high_water()
        self._most = resident()
        if not self._reset and self._start is not None:
            _sampler.watch(self)

    def observe(self, size: int) -> None:
        self._most = max(self._most, size)

    def stop(self) -> int | None:
        _sampler.unwatch(self)
        end = high_water()
        if end is None or self._start is None:
            return lifetime_peak()
        if self._reset or end > self._start:
            return end
        return max(self._most, resident())


class _Sampler:
    """One helper thread sampling the resident size for every watched attempt."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.watched: set[PeakWatch] = set()
        self.thread: threading.Thread | None = None

    def watch(self, watch: PeakWatch) -> None:
        with self.lock:
            self.watched.add(watch)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="flowy-rss", daemon=True)
                self.thread.start()

    def unwatch(self, watch: PeakWatch) -> None:
        with self.lock:
            self.watched.discard(watch)

    def _loop(self) -> None:
        while True:
            with self.lock:
                watched = list(self.watched)
                if not watched:  # nothing to watch: the thread ends (a new watch starts one)
                    self.thread = None
                    return
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
