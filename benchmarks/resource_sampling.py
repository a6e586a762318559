"""What measuring a step's resources costs, against a CPU-bound step.

Issue 15 asks that resource sampling cost under 1% of a CPU-bound step's time.
Every attempt opens a :class:`flowy.run.resource_usage.Meter` before it loads its
inputs and stops it after its outputs are written (``getrusage``, ``/proc/self/io``,
``/proc/thread-self/io``, the peak-RSS reset and read, the NVML probe). This script
times:

* the first meter of a process (it also tries to import NVML's binding once);
* ``--meters`` meters opened and stopped in a row (median and p99 per attempt): as
  in a worker process (the high-water mark reset), as in the orchestrating process
  (the mark left alone, the resident-size sampler thread started and stopped), and
  two overlapping (the per-thread path);
* a CPU-bound step body (pure Python arithmetic, ``--work`` iterations), with and
  without a meter around it, interleaved, ``--repeats`` times each (medians);

and prints the meter's cost as a share of the step's time beside the 1% target.
In a worker the measuring is reads at the attempt's edges: its cost does not grow
with the step's length. In the orchestrating process a helper thread also samples
the resident size every 50 ms while the step runs (one small read each time).

``python benchmarks/resource_sampling.py [--meters N] [--work N] [--repeats N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

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

    def per_meter(make: Any, n: int) -> dict[str, float]:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            make().stop()
            times.append((time.perf_counter() - t0) * 1e6)
        return percentiles(times)

    worker = per_meter(lambda: Meter(dedicated=True), args.meters)
    orchestrator = per_meter(Meter, args.meters)
    shared = []
    for _ in range(args.meters // 2):
        t0 = time.perf_counter()
        a, b = Meter(dedicated=True), Meter(dedicated=True)
        a.stop()
        b.stop()
        shared.append((time.perf_counter() - t0) * 1e6 / 2)
    shared_p = percentiles(shared)

    plain, in_worker, in_orchestrator = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        cpu_bound(args.work)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        meter = Meter(dedicated=True)
        cpu_bound(args.work)
        usage = meter.stop()
        in_worker.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        meter = Meter()  # as in the orchestrating process: the RSS sampler runs meanwhile
        cpu_bound(args.work)
        meter.stop()
        in_orchestrator.append(time.perf_counter() - t0)
    step_s = statistics.median(plain)
    share = max(worker["p50"], orchestrator["p50"]) / 1e6 / step_s
    end_to_end = statistics.median(in_orchestrator) / step_s - 1
    print(f"first meter of a process (NVML probe included): {first_ms:.2f} ms")
    for label, p in (
        ("in a worker (mark reset)", worker),
        ("in the orchestrator (sampler thread started)", orchestrator),
        ("two overlapping, per thread", shared_p),
    ):
        print(f"meter per attempt, {label}: p50 {p['p50']:.1f} us, p99 {p['p99']:.1f} us")
    print(f"CPU-bound step (medians of {args.repeats}): {step_s * 1000:.0f} ms plain, ", end="")
    print(f"{statistics.median(in_worker) * 1000:.0f} ms metered in a worker, ", end="")
    print(f"{statistics.median(in_orchestrator) * 1000:.0f} ms in the orchestrator")
    print(f"measured: cpu {usage.cpu_seconds:.3f} s, peak RSS {usage.peak_rss_bytes:,} B")
    print(f"fixed cost per attempt: {share:.4%} of the step   target < {TARGET:.0%}")
    print(f"end to end with the sampler (noise included): {end_to_end:+.2%}")
    ok = share < TARGET
    print("OK" if ok else "ABOVE TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
