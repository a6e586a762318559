"""What a step attempt costs: CPU time, peak memory, bytes read and written, GPU use.

:func:`flowy.run.worker.execute_attempt` opens a :class:`Meter` before it loads the
step's inputs and stops it after the outputs are written, in the process that runs
the step, whichever executor started it (a local pool worker, a forked child, the
orchestrating process itself in sequential mode, a Dask worker's thread, a SageMaker
job). The figures travel back in the attempt's ``StepResult.resources`` and are
stored on the step's row (``step_runs``). Retries add up: CPU time and bytes are
summed over the attempts, peaks are the largest (:func:`combine`).

What is counted, on Linux:

- **CPU seconds**: user + system time of the process (all its threads, so a NumPy or
  PyTorch thread pool is included) plus that of child processes it waited for
  (``getrusage``).
- **Peak RSS**: the process's resident-set high-water mark (``VmHWM``), reset when
  the attempt starts in a process that exists to run steps, so an earlier step's
  peak does not show; in the orchestrating process (sequential mode) the mark is
  left alone and the peak comes from the mark's rise or from sampling
  (:mod:`flowy.run.peak_memory`).
- **Bytes read / written**: ``rchar`` / ``wchar`` of ``/proc/self/io``: bytes passed to
  read and write system calls, files, pipes and sockets alike, page-cache hits
  included (``read_bytes`` there counts only disk reads, and is 0 on tmpfs).

**Several steps in one process at once** (a Dask worker's threads, in-process attempts
on threads): process-wide counters would charge each step with the others' work. A
meter that overlapped another one in the same process reports its own thread's CPU
time (``time.thread_time``) and I/O (``/proc/thread-self/io``) instead, so threads a
step starts itself are then not counted, and the process's peak RSS while it ran
(shared by the overlapping steps: an upper bound).

**GPU** (only where ``nvidia-ml-py`` is installed and NVML finds a driver; otherwise
None, at the cost of one failed import per process): the GPU memory this process
holds on each device when the attempt ends, summed over devices (PyTorch's caching
allocator keeps its peak reserved, so for PyTorch this is the peak reservation), and
the mean of NVML's per-process utilisation samples taken while the attempt ran.
In a container whose process ids differ from the host's, NVML does not list the
process and both stay None.

Elsewhere (macOS, Windows) CPU time comes from ``time.process_time`` /
``getrusage``, peak RSS from ``ru_maxrss`` where there is one, and the byte counts
are None.

Cost: a few ``getrusage`` calls and small ``/proc`` reads per attempt, tens of
microseconds, plus a resident-size sample every 50 ms while a step runs in the
orchestrating process (``python benchmarks/resource_sampling.py``).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from types import ModuleType
from typing import Any

import attrs

from flowy.kernel.records import ResourceUsage, StepResult
from flowy.run.peak_memory import PeakWatch, read_proc

try:
    import resource as _resource
except ImportError:  # Windows
    _resource = None  # type: ignore[assignment]

_lock = threading.Lock()
_active: set[Meter] = set()
#: True in a process forked from another (a forked attempt, a fork-started pool worker).
_forked = False


def _forget_after_fork() -> None:
    """A forked child measures only its own attempts: its parent's meters are not running."""
    global _lock, _forked
    _lock = threading.Lock()
    _active.clear()
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _io(path: str) -> tuple[int, int] | None:
    """``(rchar, wchar)`` from a ``/proc/.../io`` file, or None where there is none."""
    text = read_proc(path)
    if text is None:
        return None
    try:
        read_at, write_at = text.index(b"rchar:"), text.index(b"wchar:")
        return (
            int(text[read_at + 6 : text.index(b"\n", read_at)]),
            int(text[write_at + 6 : text.index(b"\n", write_at)]),
        )
    except ValueError:
        return None


def _process_cpu() -> float:
    if _resource is None:
        return time.process_time()
    me = _resource.getrusage(_resource.RUSAGE_SELF)
    kids = _resource.getrusage(_resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _delta(end: tuple[int, int] | None, start: tuple[int, int] | None) -> tuple[Any, Any]:
    if end is None or start is None:
        return None, None
    return end[0] - start[0], end[1] - start[1]


class Meter:
    """Measures one attempt from construction to :meth:`stop` (see the module docstring).

    ``dedicated``: the process exists to run steps (the step was resolved by reference,
    as pool, Dask and SageMaker workers do), so its memory high-water mark may be reset;
    a forked child's may be too. The orchestrating process's is only read
    (:mod:`flowy.run.peak_memory`).
    """

    __slots__ = (
        "_gpu_since",
        "_io",
        "_peak",
        "_process_cpu",
        "_thread_cpu",
        "_thread_io",
        "shared",
        "usage",
    )

    def __init__(self, dedicated: bool = False) -> None:
        self.usage: ResourceUsage | None = None
        with _lock:
            #: True once another meter ran in this process at the same time.
            self.shared = bool(_active)
            for other in _active:
                other.shared = True
            _active.add(self)
            # Only the first of overlapping meters resets: the others' peaks stay intact.
            self._peak = PeakWatch(reset=(dedicated or _forked) and not self.shared)
        self._gpu_since = int(time.time() * 1_000_000)
        self._thread_io = _io("/proc/thread-self/io")
        self._io = _io("/proc/self/io")
        self._thread_cpu = time.thread_time()
        self._process_cpu = _process_cpu()

    def stop(self) -> ResourceUsage:
        """The attempt's usage (measured once: later calls return the same figures)."""
        if self.usage is not None:
            return self.usage
        process_cpu, thread_cpu = _process_cpu(), time.thread_time()
        io, thread_io = _io("/proc/self/io"), _io("/proc/thread-self/io")
        with _lock:
            _active.discard(self)
            shared = self.shared
        if shared:
            cpu = thread_cpu - self._thread_cpu
            read, written = _delta(thread_io, self._thread_io)
        else:
            cpu = process_cpu - self._process_cpu
            read, written = _delta(io, self._io)
        gpu_memory, gpu_util = gpu_usage(self._gpu_since)
        self.usage = ResourceUsage(
            cpu_seconds=max(0.0, cpu),
            peak_rss_bytes=self._peak.stop(),
            read_bytes=read,
            written_bytes=written,
            gpu_memory_bytes=gpu_memory,
            gpu_utilization=gpu_util,
        )
        return self.usage


def combine(earlier: ResourceUsage | None, later: ResourceUsage | None) -> ResourceUsage | None:
    """Two attempts' usage as one step's: times and bytes summed, peaks the largest."""
    if earlier is None or later is None:
        return later or earlier

    def add(a: Any, b: Any) -> Any:
        return b if a is None else a if b is None else a + b

    def most(a: Any, b: Any) -> Any:
        return b if a is None else a if b is None else max(a, b)

    return ResourceUsage(
        cpu_seconds=add(earlier.cpu_seconds, later.cpu_seconds),
        peak_rss_bytes=most(earlier.peak_rss_bytes, later.peak_rss_bytes),
        read_bytes=add(earlier.read_bytes, later.read_bytes),
        written_bytes=add(earlier.written_bytes, later.written_bytes),
        gpu_memory_bytes=most(earlier.gpu_memory_bytes, later.gpu_memory_bytes),
        gpu_utilization=most(earlier.gpu_utilization, later.gpu_utilization),
    )


def with_usage(result: StepResult, meter: Meter) -> StepResult:
    """``result`` carrying the meter's figures."""
    return attrs.evolve(result, resources=meter.stop())


# -- GPU (NVML) -------------------------------------------------------------------------


@functools.cache
def _nvml() -> ModuleType | None:
    """``pynvml`` (from ``nvidia-ml-py``) once NVML is initialised, or None (once per process).

    Set ``FLOWY_NVML=0`` to never try.
    """
    if os.environ.get("FLOWY_NVML", "1") == "0":
        return None
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - not installed, no driver, no GPU: not measured
        return None
    return pynvml  # type: ignore[no-any-return]


def gpu_usage(since_us: int) -> tuple[int | None, float | None]:
    """``(memory bytes, mean utilisation %)`` of this process on its GPUs, or Nones.

    ``since_us`` is when the attempt started (microseconds since the epoch): only
    utilisation samples NVML took after it count.
    """
    nvml = _nvml()
    if nvml is None:
        return None, None
    pid = os.getpid()
    memory: int | None = None
    samples: list[float] = []
    try:
        for index in range(nvml.nvmlDeviceGetCount()):
            device = nvml.nvmlDeviceGetHandleByIndex(index)
            mine = [p for p in nvml.nvmlDeviceGetComputeRunningProcesses(device) if p.pid == pid]
            if not mine:
                continue
            memory = (memory or 0) + sum(p.usedGpuMemory or 0 for p in mine)
            try:
                found = nvml.nvmlDeviceGetProcessUtilization(device, since_us)
            except nvml.NVMLError:  # not supported on this GPU: no utilisation figure
                continue
            samples += [float(s.smUtil) for s in found if s.pid == pid]
    except Exception:  # noqa: BLE001 - a driver hiccup never fails a step
        return None, None
    return memory, (sum(samples) / len(samples) if samples else None)
