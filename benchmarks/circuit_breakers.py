"""What a circuit breaker costs a guarded step, on the stores a run uses.

A step with ``@step(circuit_breaker=...)`` asks the metadata store before it is
executed (``circuit_admit``) and tells it how the attempt ended
(``circuit_ended``). On the common path (the breaker closed, the step
succeeding) both are decided in a read transaction and write nothing. This
script times, on a fresh SQLite file, for the default stdlib store and the
SQLAlchemy store:

* ``--cycles`` closed cycles in a row (admit, then a success): the cost a
  healthy guarded step pays per run;
* the same number of admissions while the breaker is open (what a run that
  falls back pays before its fallback);
* failures recorded one after another (a write each: the breaker's count).

It prints medians and p99 per call beside the 1 ms per guarded step this
feature aims for (the issue sets no figure).

``python benchmarks/circuit_breakers.py [--cycles N]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _support import percentiles

TARGET_MS = 1.0


def timed(n: int, call: Any) -> dict[str, float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


def measure(store: Any, cycles: int) -> dict[str, dict[str, float]]:
    def closed(i: int) -> None:
        store.circuit_admit("bench", "ok", f"r{i}", reset_after=600)
        store.circuit_ended("bench", "ok", f"r{i}", failed=False, threshold=3)

    def failure(i: int) -> None:
        store.circuit_ended("bench", "down", f"r{i}", failed=True, error="x", threshold=3)

    def refused(i: int) -> None:
        store.circuit_admit("bench", "down", f"s{i}", reset_after=3600)

    closed(-1)  # the row, written once
    return {
        "closed cycle (admit + success)": timed(cycles, closed),
        "failure recorded (a write)": timed(cycles, failure),
        "admit while open": timed(cycles, refused),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500)
    args = parser.parse_args()
    from flowy_store_sqlite.metadata import SQLMetadataStore
    from flowy_store_sqlite.sqlite import SQLiteMetadataStore

    print(f"circuit breakers: {args.cycles} calls each, target {TARGET_MS} ms per guarded step")
    for cls in (SQLiteMetadataStore, SQLMetadataStore):
        with tempfile.TemporaryDirectory() as tmp:
            store = cls(f"sqlite:///{Path(tmp) / 'flowy.db'}")
            try:
                figures = measure(store, args.cycles)
            finally:
                store.close()
        for what, p in figures.items():
            print(f"  {cls.__name__:20} {what:32} p50 {p['p50']:.3f} ms  p99 {p['p99']:.3f} ms")


if __name__ == "__main__":
    main()
