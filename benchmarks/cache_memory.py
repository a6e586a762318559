"""Cache-hit memory (issue 11, item 4): peak RSS of a wide step's first run and cached re-run.

One step with ``--outputs`` (default 10,000) outputs, run by ``flowy run`` in a
fresh project, then run again so that every output is served from the cache.
Each run is its own process; its peak resident set size is read from the
kernel when it exits (``wait4``'s ``ru_maxrss``, which covers the process and
any worker it waited for). Rows (median of ``--repeat`` pairs):

* ``first run``: the step runs and writes its outputs, one transaction records them;
* ``cached re-run``: the cache lookup reads the entry and its outputs' records,
  verifies each artifact and records the cached step;
* ``cached / first``: the acceptance figure, at most 1.2.

A cached re-run used to read the entry's outputs JSON once per output (4.3 GB
at 10,000 outputs); a lookup now reads it once, so the re-run peaks below the
first run.

Run: ``python benchmarks/cache_memory.py`` (or ``nox -s benchmarks -- cache_memory``).
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

WIDE = """
from flowy import Pipeline, step

N = {n}


@step(outputs=[f"o{{i}}" for i in range(N)])
def wide() -> tuple:
    return tuple(range(N))


pipeline = Pipeline("wide", [wide])
"""


def peak_rss_mb(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run ``cmd`` to completion; its peak resident set size in MiB (Linux: ru_maxrss KiB)."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: wait4 must not block on it
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text}")
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)  # macOS: bytes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--outputs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    flowy = shutil.which("flowy") or str(Path(sys.executable).with_name("flowy"))
    work = Path(tempfile.mkdtemp(prefix="flowy-bench-"))
    env = {**os.environ, "FLOWY_HOME": str(work / "home")}
    for name in ("FLOWY_PROJECT", "FLOWY_STACK"):
        env.pop(name, None)
    source = work / "wide.py"
    source.write_text(WIDE.format(n=args.outputs))
    firsts, cached = [], []
    for i in range(args.repeat):
        project = work / f"p{i}"
        (project / ".flowy").mkdir(parents=True)
        firsts.append(peak_rss_mb([flowy, "run", str(source)], project, env))
        cached.append(peak_rss_mb([flowy, "run", str(source)], project, env))
        shutil.rmtree(project, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    first, again = statistics.median(firsts), statistics.median(cached)
    figures = {
        "outputs": args.outputs,
        "first_run_peak_mib": round(first, 1),
        "cached_rerun_peak_mib": round(again, 1),
        "cached_over_first": round(again / first, 3),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    targets = {"cached_over_first": "<= 1.2"}
    print(f"{'figure':24} {'value':>10}  target")
    for key, value in figures.items():
        print(f"{key:24} {value:10}  {targets.get(key, '')}")


if __name__ == "__main__":
    main()
