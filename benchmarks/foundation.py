"""Foundation benchmarks (issue 2): whole-process timings of `flowy`, as a user sees them.

Rows (median of ``--repeat`` runs after one untimed warm-up, each a fresh process):

* ``import flowy`` and ``flowy --help``;
* ``flowy run`` of a chain of 1 and of 100 trivial ``+1`` steps, uncached, each in
  a fresh project (SQLite metadata, local artifacts, JSON materializer): the
  marginal cost per step is (T(100) - T(1)) / 99;
* the same 100-step chain re-run fully cached, and its marginal cost per step
  against a cached 1-step chain.

The 1- and N-step runs alternate, and each marginal figure is the median of the
paired differences, so a change in the machine's load during the benchmark
shifts both sides of a pair alike. A 100-step difference is only tens of
milliseconds against a ~0.2 s process start, so the same marginals are also
measured on a ``--long`` (default 1000) step chain, where the signal is ten
times larger; both are reported.

Run: ``python benchmarks/foundation.py`` (or ``nox -s benchmarks``). Peer figures
for the same workloads come from ../shared/peers (see its README).
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
from collections.abc import Callable
from pathlib import Path


def chain_source(n: int) -> str:
    lines = ["from flowy import Pipeline, step", "", "", "@step", "def s0():", "    return 0", ""]
    for i in range(1, n):
        lines += ["", "@step", f"def s{i}(s{i - 1}):", f"    return s{i - 1} + 1", ""]
    names = ", ".join(f"s{i}" for i in range(n))
    lines += ["", f'pipeline = Pipeline("chain{n}", [{names}])', ""]
    return "\n".join(lines)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return time.perf_counter() - start


def median_of(repeat: int, fn) -> float:
    fn()  # warm-up: page cache, .pyc files
    return statistics.median(fn() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--long", type=int, default=1000, help="steps of the long chain")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    flowy = shutil.which("flowy") or str(Path(sys.executable).with_name("flowy"))
    work = Path(tempfile.mkdtemp(prefix="flowy-bench-"))
    env = {**os.environ, "FLOWY_HOME": str(work / "home")}
    # As on a user's machine, Python caches bytecode (.pyc) for Flowy and for the pipeline
    # file. Any non-empty PYTHONDONTWRITEBYTECODE (even "0") turns that off, so drop it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("FLOWY_PROJECT", None)
    env.pop("FLOWY_STACK", None)
    long = args.long
    for n in (1, 100, long):
        (work / f"chain{n}.py").write_text(chain_source(n))

    def fresh_run(n: int) -> float:
        project = work / f"p{n}"
        shutil.rmtree(project, ignore_errors=True)
        (project / ".flowy").mkdir(parents=True)
        return timed([flowy, "run", str(work / f"chain{n}.py")], project, env)

    def cached_run(n: int) -> float:
        return timed([flowy, "run", str(work / f"chain{n}.py")], work / f"c{n}", env)

    def paired(run: Callable[[int], float], n: int) -> tuple[float, float, float]:
        """Median T(1), median T(n) and median of T(n) - T(1) over alternating runs."""
        run(1), run(n)  # warm-up: page cache, .pyc files
        pairs = [(run(1), run(n)) for _ in range(args.repeat)]
        ones, ns = zip(*pairs, strict=True)
        diff = statistics.median(b - a for a, b in pairs)
        return statistics.median(ones), statistics.median(ns), diff

    figures: dict[str, float] = {}
    figures["import_flowy_s"] = median_of(
        args.repeat, lambda: timed([sys.executable, "-c", "import flowy"], work, env)
    )
    figures["flowy_help_s"] = median_of(args.repeat, lambda: timed([flowy, "--help"], work, env))
    t1, t100, d100 = paired(fresh_run, 100)
    for n in (1, 100, long):
        (work / f"c{n}" / ".flowy").mkdir(parents=True)
        timed([flowy, "run", str(work / f"chain{n}.py")], work / f"c{n}", env)  # fill the cache
    c1, c100, dc100 = paired(cached_run, 100)
    _, t_long, d_long = paired(fresh_run, long)
    _, c_long, dc_long = paired(cached_run, long)
    figures.update(
        run_chain1_s=t1,
        run_chain100_s=t100,
        marginal_ms_per_step=d100 / 99 * 1000,
        cached_chain1_s=c1,
        cached_chain100_s=c100,
        cached_marginal_ms_per_step=dc100 / 99 * 1000,
        cached_over_uncached=dc100 / d100,
        **{
            f"run_chain{long}_s": t_long,
            f"marginal_ms_per_step_{long}": d_long / (long - 1) * 1000,
            f"cached_chain{long}_s": c_long,
            f"cached_marginal_ms_per_step_{long}": dc_long / (long - 1) * 1000,
            f"cached_over_uncached_{long}": dc_long / d_long,
        },
    )
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    targets = {
        "import_flowy_s": "<= 0.150",
        "flowy_help_s": "<= 0.150",
        "run_chain100_s": "<= 0.5",
        "marginal_ms_per_step": "<= 2.0",
        "cached_marginal_ms_per_step": "<= marginal / 4",
        "cached_over_uncached": "<= 0.25",
        f"marginal_ms_per_step_{long}": "<= 2.0",
        f"cached_over_uncached_{long}": "<= 0.25",
    }
    print(f"{'figure':32} {'value':>10}  target")
    for key, value in figures.items():
        print(f"{key:32} {value:10.4f}  {targets.get(key, '')}")


if __name__ == "__main__":
    main()
