"""Sweep benchmark (issue 14): a 20-point sweep over a pipeline whose first step takes 2 s.

The pipeline: ``slow`` (``time.sleep(2)``, takes no swept parameter), then two
trivial steps that take ``alpha``. Targets: ``slow`` runs once for the whole
sweep, and the sweep's wall time is within 1.3x of the ideal schedule on 2
cores: 2 s for ``slow``, then the 20 runs' own work spread over 2 workers. A
run's own work is what one run of this pipeline with ``slow`` cached costs the
engine (its run record's duration, measured alone); start-up of the ``flowy``
process is shown apart (a cached 1-step ``flowy run``).

Designs compared, each from a fresh project:

* ``flowy run --sweep ... --sweep-parallel 2``: what Flowy does (forked
  workers, each running many runs in one process);
* ``pipeline.sweep(...)`` in a warm Python process: the same without start-up;
* a ``flowy run -p alpha=X`` subprocess per combination, 2 at a time after the
  first one: the design not taken (it pays start-up per run).

(A thread per run inside one process is not measured: steps that run in the
orchestrating process redirect ``sys.stdout`` process-wide, so concurrent runs in
threads would mix logs; see flowy.run.sweep_pool.)

Run: ``python benchmarks/sweep.py [--repeat N] [--points N]``. Medians of N.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _support import ONE_STEP, flowy, flowy_env, fresh_project, startup

PIPELINE = """
import time
import flowy
from flowy import Pipeline, step

@step
def slow() -> list:
    time.sleep(2)
    return [1, 2, 3]

@step
def fit(slow: list, alpha: float) -> float:
    return sum(slow) * alpha

@step
def score(fit: float) -> float:
    flowy.log_metric("score", fit)
    return fit

pipeline = Pipeline("sweep_bench", [slow, fit, score])
"""

WORKERS = 2
SLOW = 2.0


def _store(project: Path, home: Path) -> Any:
    os.environ["FLOWY_HOME"] = str(home)
    from flowy.tracking.client import Client

    return Client("local", project)


def slow_runs(project: Path, home: Path) -> int:
    """How many times ``slow`` really ran (completed, not cached)."""
    with _store(project, home) as client:
        runs = client.store.list_runs(limit=1000)
        return sum(
            1
            for r in runs
            for s in client.store.get_step_runs(r.run_id)
            if s.step == "slow" and s.status == "completed"
        )


def run_cost(project: Path, home: Path) -> float:
    """One run's own work with ``slow`` cached: the run record's duration of a lone run."""
    costs = []
    for i in range(3):
        flowy(project, home, "run", "p.py", "-p", f"alpha={1000 + i}")
        with _store(project, home) as client:
            latest = client.store.list_runs(limit=1)[0]
            costs.append(float((latest.finished_at or latest.started_at) - latest.started_at))
    return float(statistics.median(costs))


def values(points: int) -> str:
    return ",".join(str(i + 1) for i in range(points))


def cli_sweep(base: Path, points: int) -> tuple[float, int, float]:
    project, home = fresh_project(base / "cli", PIPELINE)
    took = flowy(
        project, home, "run", "p.py", "--sweep", f"alpha={values(points)}",
        "--sweep-parallel", str(WORKERS),
    )  # fmt: skip
    return took, slow_runs(project, home), run_cost(project, home)


def api_sweep(base: Path, points: int) -> float:
    """``pipeline.sweep()`` timed in a warm process (as in a notebook that already ran a
    pipeline: a 1-step pipeline of the same project ran first), start-up excluded."""
    project, home = fresh_project(base / "api", PIPELINE)
    (project / "one.py").write_text(ONE_STEP)
    code = (
        "import sys, time\n"
        "from flowy.run import load_pipeline\n"
        "load_pipeline('one.py').run()\n"
        "p = load_pipeline('p.py')\n"
        "t = time.perf_counter()\n"
        f"r = p.sweep(grid={{'alpha': list(range(1, {points + 1}))}}, parallel={WORKERS})\n"
        "assert r.ok, r\n"
        "print(time.perf_counter() - t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=flowy_env(project, home),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"API sweep failed:\n{done.stdout}\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def subprocess_per_run(base: Path, points: int) -> float:
    """The design not taken: the first combination alone, then one ``flowy run`` each, 2 at once."""
    project, home = fresh_project(base / "subprocesses", PIPELINE)
    started = time.perf_counter()
    flowy(project, home, "run", "p.py", "-p", "alpha=1")
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda a: flowy(project, home, "run", "p.py", "-p", f"alpha={a}"),
                      range(2, points + 1)))  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--no-compare", action="store_true", help="skip the subprocess design")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="flowy-sweep-bench-"))
    cli, api, per_run, cost, start, slow = [], [], [], [], [], set()
    try:
        for _ in range(args.repeat):
            start.append(startup(base))  # first: a fresh home's one-time scans land here
            took, ran, one = cli_sweep(base, args.points)
            cli.append(took)
            slow.add(ran)
            cost.append(one)
            api.append(api_sweep(base, args.points))
            if not args.no_compare:
                per_run.append(subprocess_per_run(base, args.points))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    c, a, s, r = (statistics.median(x) for x in (cli, api, start, cost))
    ideal = SLOW + args.points * r / WORKERS
    n = args.points
    print(f"{'workload':<58} {'median':>8}  target")
    print(f"{f'slow step runs in a {n}-point sweep':<58} {'/'.join(map(str, sorted(slow))):>8}  1")
    print(f"{'one run with slow cached (run record, alone)':<58} {r * 1000:>6.1f}ms")
    print(f"{f'ideal on {WORKERS} cores: 2 s + {n} x that / {WORKERS}':<58} {ideal:>7.2f}s")
    print(f"{'pipeline.sweep(), in a warm process':<58} {a:>7.2f}s  {a / ideal:.2f}x (< 1.3x)")
    print(f"{'flowy run --sweep, whole process':<58} {c:>7.2f}s  {c / ideal:.2f}x")
    print(f"{'start-up (a cached 1-step flowy run)':<58} {s:>7.2f}s")
    print(
        f"{'flowy run --sweep beyond start-up':<58} {c - s:>7.2f}s  {(c - s) / ideal:.2f}x (< 1.3x)"
    )
    if per_run:
        p = statistics.median(per_run)
        label = "a flowy run subprocess per combination (not taken)"
        print(f"{label:<58} {p:>7.2f}s  {p / ideal:.2f}x")


if __name__ == "__main__":
    main()
