"""Map benchmarks (issue 14), whole process, printed as one table.

* a ``flowy run`` of a pipeline mapping a trivial step over 1,000 elements, on
  the local executor in parallel (2 workers), fresh project: target under 2 s;
* the same run again, every element served by the cache: target under 0.3 s
  plus start-up (start-up measured as a 1-step pipeline's ``flowy run`` here);
* per element, beside Metaflow's 200-wide ``foreach`` (35 s measured on this
  machine with ../shared/peers, 0.175 s an element): target under 5% of it.

Run: ``python benchmarks/map.py [--repeat N] [--items N]``. Medians of N fresh
processes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from _support import flowy, fresh_project, startup

PIPELINE = """
from flowy import Pipeline, step

@step
def items(n: int = {items}) -> list:
    return list(range(n))

@step(map="items", outputs=["doubled"])
def double(items: int) -> int:
    return items * 2

@step
def total(doubled: list) -> int:
    return sum(doubled)

pipeline = Pipeline("map_bench", [items, double, total])
"""

#: Metaflow's 200-wide foreach, whole run, measured here (issue 14).
METAFLOW_FOREACH_200 = 35.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="flowy-map-bench-"))
    fresh, cached, started = [], [], []
    try:
        for _ in range(args.repeat):
            project, home = fresh_project(base / "map", PIPELINE.format(items=args.items))
            fresh.append(flowy(project, home, "run", "p.py"))
            cached.append(flowy(project, home, "run", "p.py"))
            started.append(startup(base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    f, c, s = (statistics.median(x) for x in (fresh, cached, started))
    per_item = f / args.items
    metaflow = METAFLOW_FOREACH_200 / 200
    print(f"{'workload':<52} {'median':>9}  target")
    print(f"{f'map over {args.items} trivial elements, fresh run':<52} {f:>8.2f}s  < 2 s")
    print(f"{'the same, every element cached':<52} {c:>8.2f}s  < 0.3 s + start-up")
    print(f"{'start-up (a cached 1-step run)':<52} {s:>8.2f}s")
    print(f"{'cached map beyond start-up':<52} {c - s:>8.2f}s  < 0.3 s")
    label = f"per element, fresh (Metaflow foreach: {metaflow:.3f} s)"
    print(f"{label:<52} {per_item * 1000:>7.2f}ms  < 5% ({100 * per_item / metaflow:.1f}%)")


if __name__ == "__main__":
    main()
