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
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

ONE_STEP = """
from flowy import Pipeline, step

@step
def one() -> int:
    return 1

pipeline = Pipeline("one", [one])
"""

#: Metaflow's 200-wide foreach, whole run, measured here (issue 14).
METAFLOW_FOREACH_200 = 35.0


def flowy_command() -> list[str]:
    script = Path(sys.executable).with_name("flowy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowy_cli.main"]


def timed_run(project: Path, home: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), FLOWY_PROJECT=str(project))
    started = time.perf_counter()
    done = subprocess.run(
        [*flowy_command(), "run", "p.py", *args],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"flowy run failed:\n{done.stdout}\n{done.stderr}")
    return took


def fresh_project(root: Path, source: str) -> tuple[Path, Path]:
    shutil.rmtree(root, ignore_errors=True)
    project = root / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(source)
    return project, root / "home"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="flowy-map-bench-"))
    fresh, cached, startup = [], [], []
    try:
        for _ in range(args.repeat):
            project, home = fresh_project(base / "map", PIPELINE.format(items=args.items))
            fresh.append(timed_run(project, home))
            cached.append(timed_run(project, home))
            project, home = fresh_project(base / "one", ONE_STEP)
            timed_run(project, home)
            startup.append(timed_run(project, home))  # a cached 1-step run: start-up and exit
    finally:
        shutil.rmtree(base, ignore_errors=True)
    f, c, s = (statistics.median(x) for x in (fresh, cached, startup))
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
