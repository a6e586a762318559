"""What measuring a step's resources costs, against a CPU-bound step.

Issue 15 asks that resource sampling cost under 1% of a CPU-bound step's time.
Every attempt opens a :class:`flowy.run.resource_usage.Meter` before it loads its
inputs and stops it after its outputs are written (``getrusage``, ``/proc/self/io``,
``/proc/thread-self/io``, the peak-RSS reset and read, the NVML probe). This script
times:

* the first meter of a process (it also tries to import NVML's binding once);
* ``--meters`` meters opened and stopped in a row (median and p99 per attempt),
  alone in the process and two overlapping (the per-thread path);
* a CPU-bound step body (pure Python arithmetic, ``--work`` iterations), with and
  without a meter around it, interleaved, ``--repeats`` times each (medians);

and prints the meter's cost as a share of the step's time beside the 1% target.
The sampling is two reads at the attempt's edges, not a sampler thread: its cost
does not grow with the step's length, so the share only falls for longer steps.

``python benchmarks/resource_sampling.py [--meters N] [--work N] [--repeats N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _support import percentiles

TARGET = 0.01


def cpu_bound(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--work", type=int, default=3_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from flowy.run.resource_usage import Meter

    t0 = time.perf_counter()
    first = Meter()
    first.stop()
    first_ms = (time.perf_counter() - t0) * 1000

    alone = []
    for _ in range(args.meters):
        t0 = time.perf_counter()
        Meter().stop()
        alone.append((time.perf_counter() - t0) * 1e6)
    shared = []
    for _ in range(args.meters // 2):
        t0 = time.perf_counter()
        a, b = Meter(), Meter()
        a.stop()
        b.stop()
        shared.append((time.perf_counter() - t0) * 1e6 / 2)
    alone_p, shared_p = percentiles(alone), percentiles(shared)

    plain, metered = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        cpu_bound(args.work)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        meter = Meter()
        cpu_bound(args.work)
        usage = meter.stop()
        metered.append(time.perf_counter() - t0)
    step_s = statistics.median(plain)
    share = alone_p["p50"] / 1e6 / step_s
    print(f"first meter of a process (NVML probe included): {first_ms:.2f} ms")
    print(f"meter per attempt, alone: p50 {alone_p['p50']:.1f} us, p99 {alone_p['p99']:.1f} us")
    print(f"meter per attempt, overlapping: p50 {shared_p['p50']:.1f} us, ", end="")
    print(f"p99 {shared_p['p99']:.1f} us")
    print(f"CPU-bound step: {step_s * 1000:.0f} ms plain, ", end="")
    print(
        f"{statistics.median(metered) * 1000:.0f} ms metered (medians of {args.repeats}; ", end=""
    )
    print("the difference is noise at this size)")
    print(f"measured: cpu {usage.cpu_seconds:.3f} s, peak RSS {usage.peak_rss_bytes:,} B")
    print(f"sampling cost: {share:.4%} of the step   target < {TARGET:.0%}")
    ok = share < TARGET
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
