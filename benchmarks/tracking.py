"""Experiment-tracking benchmarks (issue 5): metric logging, environment facts, experiment reads.

Rows (median of ``--repeat`` after one untimed warm-up):

* ``log_metric x10000 (in step)``: the 10,000 ``flowy.log_metric`` calls alone;
* ``10k metrics, run end to end``: ``run_pipeline`` of a one-step pipeline that
  logs 10,000 values (plan, execute, one metadata transaction, hooks), in
  process; and ``... minus empty run``: the same less a run whose step logs
  nothing, i.e. what the 10,000 values cost;
* ``10k metrics, flowy run``: the whole ``flowy run`` process for that pipeline;
* ``environment facts (cached)`` and ``(scan)``: ``environment_facts()`` with
  the per-environment cache warm, and the full distribution scan it avoids;
* ``flowy run, 100-step chain``: the whole process, uncached (budget 0.5 s);
* ``flowy experiment list`` and ``experiment runs -n 50`` on a store holding
  ``--runs`` runs (default 10,000) with 20 metrics each, written straight into
  the SQL tables.

Run: ``python benchmarks/tracking.py`` (or ``nox -s benchmarks -- tracking``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

LOGGER = """
import flowy
from flowy import Pipeline, step


@step(cache=False)
def train(n: int = {n}) -> int:
    for i in range(n):
        flowy.log_metric("loss", 1.0 / (i + 1), step=i)
    return n


pipeline = Pipeline("logger", [train])
"""


def median_of(repeat: int, fn: Callable[[], float]) -> float:
    fn()
    return statistics.median(fn() for _ in range(repeat))


def timed_process(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def chain_source(n: int) -> str:
    lines = ["from flowy import Pipeline, step", "", "@step", "def s0():", "    return 0", ""]
    for i in range(1, n):
        lines += ["@step", f"def s{i}(s{i - 1}):", f"    return s{i - 1} + 1", ""]
    lines.append(f'pipeline = Pipeline("chain{n}", [{", ".join(f"s{i}" for i in range(n))}])')
    return "\n".join(lines) + "\n"


def in_process(work: Path, repeat: int) -> dict[str, float]:
    os.environ["FLOWY_HOME"] = str(work / "home")
    os.environ["FLOWY_PROJECT"] = str(work / "inproc")
    (work / "inproc" / ".flowy").mkdir(parents=True)
    from flowy.kernel.records import StepRef, StepTask
    from flowy.run import step_log
    from flowy.run.engine import run_pipeline
    from flowy.run.facts import _memo, _scan_distributions, environment_facts
    from flowy.run.loader import load_pipeline

    task = StepTask("r", "p", "s", StepRef("m", "q"), "", {}, {}, [], None)  # type: ignore[arg-type]

    def calls() -> float:
        token = step_log.begin(step_log.StepLog(task, None))  # type: ignore[arg-type]
        start = time.perf_counter()
        for i in range(10_000):
            step_log.log_metric("loss", 1.0 / (i + 1), step=i)
        took = time.perf_counter() - start
        step_log.end(token)
        return took

    path = work / "inproc" / "logger.py"
    path.write_text(LOGGER.format(n=10_000))
    pipeline = load_pipeline(str(path))

    def run(n: int) -> Callable[[], float]:
        def go() -> float:
            start = time.perf_counter()
            result = run_pipeline(pipeline, params={"n": n})
            assert result.ok
            return time.perf_counter() - start

        return go

    full = median_of(repeat, run(10_000))
    empty = median_of(repeat, run(0))

    def cached_env() -> float:
        start = time.perf_counter()
        environment_facts()
        return time.perf_counter() - start

    def scan() -> float:
        _memo.clear()
        start = time.perf_counter()
        _scan_distributions()
        return time.perf_counter() - start

    return {
        "log_metric x10000 (in step)": median_of(repeat, calls),
        "10k metrics, run end to end": full,
        "10k metrics, minus empty run": full - empty,
        "environment facts (cached)": median_of(repeat, cached_env),
        "environment facts (scan)": median_of(repeat, scan),
    }


def fill_store(db: Path, runs: int, metrics: int = 20) -> None:
    from flowy_store_sqlite import schema as s
    from flowy_store_sqlite.metadata import SQLMetadataStore

    SQLMetadataStore(f"sqlite:///{db}").close()  # creates the schema
    from sqlalchemy import create_engine, insert

    engine = create_engine(f"sqlite:///{db}")
    now = time.time()
    run_rows, metric_rows = [], []
    for i in range(runs):
        run_id = uuid.uuid4().hex
        run_rows.append({
            "run_id": run_id, "pipeline": f"p{i % 5}", "status": "completed",
            "params": json.dumps({"lr": i / runs}), "stack": "{}", "started_at": now - runs + i,
            "finished_at": now - runs + i + 1, "git": "{}", "environment": "{}",
            "experiment": f"exp{i % 20}", "pid": None, "host": "bench",
        })  # fmt: skip
        metric_rows += [
            {"run_id": run_id, "step": "train", "name": f"m{k}", "value": k * i, "idx": None,
             "timestamp": now}
            for k in range(metrics)
        ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(s.runs), run_rows)
        conn.execute(insert(s.metrics), metric_rows)
    engine.dispose()


def processes(work: Path, repeat: int, runs: int) -> dict[str, float]:
    flowy = shutil.which("flowy") or str(Path(sys.executable).with_name("flowy"))
    env = {**os.environ, "FLOWY_HOME": str(work / "home")}
    env.pop("FLOWY_PROJECT", None)
    figures = {}
    logger = work / "logger"
    (logger / ".flowy").mkdir(parents=True)
    (logger / "logger.py").write_text(LOGGER.format(n=10_000))
    figures["10k metrics, flowy run"] = median_of(
        repeat, lambda: timed_process([flowy, "run", "logger.py"], logger, env)
    )
    chain = work / "chain"
    (chain / ".flowy").mkdir(parents=True)
    (chain / "chain.py").write_text(chain_source(100))
    figures["flowy run, 100-step chain"] = median_of(
        repeat, lambda: timed_process([flowy, "run", "chain.py", "--no-cache"], chain, env)
    )
    big = work / "big"
    (big / ".flowy").mkdir(parents=True)
    fill_store(big / ".flowy" / "metadata.db", runs)
    figures[f"flowy experiment list ({runs} runs)"] = median_of(
        repeat, lambda: timed_process([flowy, "experiment", "list"], big, env)
    )
    figures[f"experiment runs -n 50 ({runs} runs)"] = median_of(
        repeat, lambda: timed_process([flowy, "experiment", "runs", "exp3", "-n", "50"], big, env)
    )
    return figures


TARGETS = {
    "10k metrics, run end to end": "< 1 s",
    "flowy run, 100-step chain": "< 0.5 s",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the experiment store")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowy-bench-tracking-"))
    try:
        figures = {**processes(work, args.repeat, args.runs), **in_process(work, args.repeat)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'figure':40} {'seconds':>10}  target")
    for key, value in figures.items():
        print(f"{key:40} {value:10.4f}  {TARGETS.get(key, '')}")


if __name__ == "__main__":
    main()
