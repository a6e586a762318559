"""What evaluating 50 alert rules adds to the end of a run (issue 15: under 20 ms).

A project with a three-step pipeline (a FeatureSet, a metric, a registered and
promoted model) gets ``--history`` real ``flowy run`` processes of history, then
50 rules of every kind in ``.flowy/config.toml`` (run_failed, retries, duration
against a limit and against 3 x the median of the last 10, metric thresholds,
worse than the production model, FeatureSet drift, freshness), no notifiers
(delivery is network time, not evaluation). Then, each in a fresh Python process
as ``flowy run`` is (the store open, the settings read and the run record in hand, as
the engine has them when it calls :func:`flowy.alerts.evaluate_run_end`):

* ``first evaluation in a process``: the first call, its imports and the config
  read included (the validated-rules cache present, as after any earlier run);
* ``steady state``: later calls, the incidents already open (no change);
* ``every rule changing``: calls where every applicable rule opens an incident
  (the alerts table emptied, untimed, before each);

each the median of ``--repeat`` (processes for the first, calls for the rest), and
``flowy run`` with the 50 rules against the same run without them (interleaved
processes, medians; noisy on a busy machine, shown for scale).

``python benchmarks/alerts.py [--history N] [--repeat N]``
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
from pathlib import Path

from _support import flowy, flowy_command, flowy_env, fresh_project

TARGET_MS = 20.0

PIPELINE = """
import flowy
from flowy import Context, FeatureSet, Pipeline, step


@step
def features(mean: float):
    return FeatureSet([mean], name="feats", statistics={"x": {"mean": mean}, "y": {"mean": 1.0}})


@step(register_model="clf")
def train(features, acc: float) -> dict:
    flowy.log_metric("acc", acc)
    flowy.log_metric("loss", 1 - acc)
    return {"weights": [acc]}


@step
def check(train: dict, fail: int) -> int:
    if fail:
        raise RuntimeError("failed on purpose")
    return 1


pipeline = Pipeline("nightly", [features, train, check], context=Context(mean=1.0, acc=0.9, fail=0))
"""


def rules_toml(count: int) -> str:
    kinds = [
        'kind = "run_failed"',
        'kind = "retries"\nmax_retries = 0',
        'kind = "duration"\nmax_seconds = 0.0001',
        'kind = "duration"\nstep = "train"\nfactor = 0.001\nlast = 10',
        'kind = "metric"\nmetric = "acc"\nbelow = 0.95',
        'kind = "metric"\nmetric = "loss"\nstep = "train"\nabove = 0.01',
        'kind = "metric"\nmetric = "acc"\nworse_than_production = "clf"',
        'kind = "drift"\nfeatureset = "feats"\nthreshold = 0.1',
        'kind = "freshness"\nwithin = "1h"',
    ]
    out = []
    for i in range(count):
        out.append(f'[alerts.rule-{i:02d}]\npipeline = "nightly"\n{kinds[i % len(kinds)]}\n')
    return "\n".join(out)


TIMED = r"""
import json, sqlite3, statistics, sys, time
from pathlib import Path
import flowy.run.engine  # imported by every flowy run before its end
from flowy import alerts
from flowy_store_sqlite.sqlite import SQLiteMetadataStore
project, mode, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
from flowy.kernel.config import load_settings
load_settings(Path(project))  # as run_pipeline does before the run (it reads config.toml)
store = SQLiteMetadataStore(project + "/.flowy/metadata.db")
run = next(r for r in store.list_runs(limit=100) if r.status == "failed")
records = {r.step: r for r in store.get_step_runs(run.run_id)}
times, cpu = [], []
for i in range(repeat if mode != "first" else 1):
    if mode == "changing":
        with sqlite3.connect(project + "/.flowy/metadata.db") as db:
            db.execute("DELETE FROM alerts")
    start, start_cpu = time.perf_counter(), time.process_time()
    changes = alerts.evaluate_run_end(store, run, records, Path(project))
    times.append((time.perf_counter() - start) * 1000)
    cpu.append((time.process_time() - start_cpu) * 1000)
print(json.dumps({"ms": times, "cpu": cpu, "changes": len(changes)}))
"""


def timed(project: Path, home: Path, mode: str, repeat: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", TIMED, str(project), mode, str(repeat)],
        env=flowy_env(project, home), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rules", type=int, default=50)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="flowy-bench-alerts-"))
    try:
        return measure(args, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure(args: argparse.Namespace, base: Path) -> int:
    project, home = fresh_project(base / "alerts", PIPELINE)
    print(f"history: {args.history} runs ...", file=sys.stderr)
    for i in range(args.history):
        flowy(project, home, "run", "p.py", "-p", f"acc={0.9 + i / 1000}")
    flowy(project, home, "model", "promote", "clf", "1", "--to", "production")
    config = project / ".flowy" / "config.toml"
    config.write_text(rules_toml(args.rules))
    # the run evaluated: failed, drifted, worse; then the cache of validated rules exists
    subprocess.run(
        [*flowy_command(), "run", "p.py", "-p", "mean=2", "-p", "acc=0.5", "-p", "fail=1"],
        cwd=project, env=flowy_env(project, home), capture_output=True, check=False,
    )  # fmt: skip
    firsts = [timed(project, home, "first", 1) for _ in range(args.repeat)]
    first = {k: [f[k][0] for f in firsts] for k in ("ms", "cpu")}
    steady = timed(project, home, "steady", args.repeat)
    changing = timed(project, home, "changing", args.repeat)

    without, with_rules = [], []
    saved = config.read_text()
    for _ in range(5):
        config.write_text("")
        without.append(flowy(project, home, "run", "p.py", "--no-cache"))
        config.write_text(saved)
        with_rules.append(flowy(project, home, "run", "p.py", "--no-cache"))

    rows = [
        ("first evaluation in a process", first),
        ("steady state (incidents open)", steady),
        (f"every rule changing ({changing['changes']} alerts)", changing),
    ]
    load = os.getloadavg()[0]
    print(
        f"alerts: {args.rules} rules at the end of a run, target < {TARGET_MS:.0f} ms "
        f"(medians; load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"  {'':<42} {'wall':>8}     {'CPU':>8}")
    for name, got in rows:
        ms, cpu = statistics.median(got["ms"]), statistics.median(got["cpu"])
        verdict = "ok" if ms < TARGET_MS else "OVER"
        print(f"  {name:<42} {ms:8.2f} ms  {cpu:8.2f} ms  [{verdict}]")
    delta = (statistics.median(with_rules) - statistics.median(without)) * 1000
    print(
        f"  flowy run with vs without the rules:       {delta:+8.1f} ms "
        f"(medians of 5 processes each: {statistics.median(with_rules):.3f} s vs "
        f"{statistics.median(without):.3f} s; noisy, for scale)"
    )
    return 0 if all(statistics.median(got["ms"]) < TARGET_MS for _, got in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
