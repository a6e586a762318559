"""Speed, round two (issue 18): whole-process workloads beside their anchors, with ratios.

Each workload alternates Flowy and its anchor (A B A B ...) after one untimed warm-up
of each, ``--repeat`` times (default 7), and reports medians, so a change in the
machine's load shifts both sides alike. Every figure is a fresh process, start-up
included, as a user sees it.

Workloads (name: what is timed; the anchor; the target):

* ``startup``: ``flowy run`` of a 1-step pipeline, start to exit; -; at most 0.15 s.
* ``chain``: the marginal cost per step of a 1,000-step chain of trivial ``+1`` steps,
  (T(1000) - T(1)) / 999 from paired runs, uncached (a fresh project each run) and
  fully cached; -; at most 0.4 ms and 0.08 ms.
* ``dag``: a random 10,000-step DAG (each step takes up to three earlier steps) on the
  local executor's default (parallel) mode: its marginal cost per step, and planning
  alone (loading the file and building the pipeline's graph and order, in one process);
  -; at most 1.2x the chain's figure, planning under 0.5 s.
* ``array``: a 200 MB float64 array made by one step and summed by the next, persisted
  and read back with checksums; anchor ``np.save`` + ``np.load`` of the same array in one
  process (../shared/peers/plain/w5.py npy, run by this interpreter); target: at most
  start-up + anchor / 0.9 (start-up: the ``startup`` figure, measured in the same run).
* ``frame``: the same with a 2M x 10 float64 DataFrame (160 MB); anchor: Kedro's
  PickleDataset persist (``kedro run --pipeline w5df --env persist``, set up by
  ../shared/peers/setup.sh), and raw ``to_pickle`` + ``read_pickle``; target: at most
  0.8x Kedro, and peak memory at most 1.2x the frame: Flowy's peak resident size minus
  that of the same two steps in memory (peers/plain/w5.py mem --df) is at most 20% of
  the frame.

Each Flowy run of ``array`` and ``frame`` starts with an empty artifact folder, as the
anchors overwrite their one file: otherwise each run would add 200 MB of dirty pages
the kernel must write back while the anchor's are discarded.

Run: ``python benchmarks/speed.py [WORKLOAD ...] [--repeat N] [--json]``; with no
workload, all of them. The peers' venvs come from ``../shared/peers/setup.sh`` (only
Kedro's is needed here); ``--peers DIR`` points elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from foundation import chain_source  # noqa: E402

FLOWY = shutil.which("flowy") or str(Path(sys.executable).with_name("flowy"))
DEFAULT_PEERS = HERE.parent.parent / "shared" / "peers"
KEDRO_PROJECT = Path("/tmp/peers/kedro_proj/bench")
KEDRO = Path("/tmp/peers/kedro/bin/kedro")
FRAME_BYTES = 2_000_000 * 10 * 8

ARRAY_PIPELINE = """
import numpy as np
from flowy import Pipeline, step


@step
def make():
    return np.random.default_rng(0).random(25_000_000)  # float64, 200 MB


@step
def total(make):
    return float(make.sum())


pipeline = Pipeline("w5", [make, total])
"""

FRAME_PIPELINE = """
import numpy as np
import pandas as pd
from flowy import Pipeline, step


@step
def make():
    values = np.random.default_rng(0).random((2_000_000, 10))
    return pd.DataFrame(values, columns=[f"c{i}" for i in range(10)])


@step
def total(make):
    return float(make.to_numpy().sum())


pipeline = Pipeline("w5df", [make, total])
"""


def dag_source(n: int, seed: int = 0) -> str:
    """A random DAG of ``n`` trivial steps; each takes up to three earlier steps."""
    rng = random.Random(seed)
    lines = ["from flowy import Pipeline, step", ""]
    for i in range(n):
        parents = sorted(rng.sample(range(i), min(i, rng.randint(0, 3)))) if i else []
        args = ", ".join(f"s{p}" for p in parents)
        body = " + ".join([f"s{p}" for p in parents] or ["0"])
        lines += ["@step", f"def s{i}({args}):", f"    return {body} + 1", ""]
    names = ", ".join(f"s{i}" for i in range(n))
    lines += [f'pipeline = Pipeline("dag{n}", [{names}])', ""]
    return "\n".join(lines)


PLANNING_PROBE = """
import sys, time
start = time.perf_counter()
from flowy.run.loader import load_pipeline
pipeline = load_pipeline(sys.argv[1])
pipeline.graph
order = pipeline._topological_order()
print(time.perf_counter() - start, len(order))
"""


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of one process (``wait4``'s own figure)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, int(usage.ru_maxrss) * 1024


def alternate(
    a: Callable[[], tuple[float, int]], b: Callable[[], tuple[float, int]], repeat: int
) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """A B A B ... after one untimed warm-up of each; both lists of (seconds, peak bytes)."""
    a(), b()
    firsts, seconds = [], []
    for _ in range(repeat):
        firsts.append(a())
        seconds.append(b())
    return firsts, seconds


def med(samples: Sequence[tuple[float, int]], index: int = 0) -> float:
    return float(statistics.median(s[index] for s in samples))


class Bench:
    """The workloads, sharing one scratch folder and one environment."""

    def __init__(self, repeat: int, peers: Path) -> None:
        self.repeat = repeat
        self.peers = peers
        self.work = Path(tempfile.mkdtemp(prefix="flowy-speed-"))
        self.env = {**os.environ, "FLOWY_HOME": str(self.work / "home")}
        # Bytecode is cached as on a user's machine (any PYTHONDONTWRITEBYTECODE turns it off).
        for name in ("PYTHONDONTWRITEBYTECODE", "FLOWY_PROJECT", "FLOWY_STACK"):
            self.env.pop(name, None)
        self.env.update(KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
        self.figures: dict[str, float] = {}
        self.startup_s: float | None = None

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    def project(
        self, name: str, source: str, fresh_artifacts: bool = False
    ) -> Callable[[], tuple[float, int]]:
        """A runner of ``flowy run`` in its own project (artifacts emptied first if asked)."""
        folder = self.work / name
        (folder / ".flowy").mkdir(parents=True, exist_ok=True)
        (folder / "pipeline.py").write_text(source)

        def go() -> tuple[float, int]:
            if fresh_artifacts:
                shutil.rmtree(folder / ".flowy" / "artifacts", ignore_errors=True)
            return run([FLOWY, "run", "pipeline.py", "--no-cache"], folder, self.env)

        return go

    def fresh_project(self, name: str, source: str, *args: str) -> Callable[[], tuple[float, int]]:
        """A runner of ``flowy run`` in a project made anew for each run (nothing cached)."""
        (self.work / f"{name}.py").write_text(source)

        def go() -> tuple[float, int]:
            folder = self.work / f"{name}-project"
            shutil.rmtree(folder, ignore_errors=True)
            (folder / ".flowy").mkdir(parents=True)
            return run([FLOWY, "run", str(self.work / f"{name}.py"), *args], folder, self.env)

        return go

    def cached_project(self, name: str, source: str) -> Callable[[], tuple[float, int]]:
        """A runner of ``flowy run`` whose every step is a cache hit (filled once here)."""
        folder = self.work / f"{name}-cached"
        (folder / ".flowy").mkdir(parents=True, exist_ok=True)
        (self.work / f"{name}.py").write_text(source)
        cmd = [FLOWY, "run", str(self.work / f"{name}.py")]
        run(cmd, folder, self.env)
        return lambda: run(cmd, folder, self.env)

    # -- workloads ----------------------------------------------------------

    def startup(self) -> None:
        one = self.project("one", chain_source(1))
        samples = [one() for _ in range(self.repeat + 1)][1:]
        self.startup_s = med(samples)
        self.figures["startup_1_step_run_s"] = self.startup_s

    def chain(self) -> None:
        n = 1000
        ones, longs = alternate(
            self.fresh_project("chain1", chain_source(1)),
            self.fresh_project(f"chain{n}", chain_source(n)),
            self.repeat,
        )
        self.figures["chain_uncached_ms_per_step"] = (med(longs) - med(ones)) / (n - 1) * 1000
        c_ones, c_longs = alternate(
            self.cached_project("cchain1", chain_source(1)),
            self.cached_project(f"cchain{n}", chain_source(n)),
            self.repeat,
        )
        self.figures["chain_cached_ms_per_step"] = (med(c_longs) - med(c_ones)) / (n - 1) * 1000

    def dag(self) -> None:
        n = 10_000
        source = dag_source(n)
        ones, bigs = alternate(
            self.fresh_project("dag1", chain_source(1)),
            self.fresh_project(f"dag{n}", source),
            max(3, self.repeat // 2),
        )
        self.figures["dag10000_ms_per_step"] = (med(bigs) - med(ones)) / (n - 1) * 1000
        probe = self.work / "plan_probe.py"
        probe.write_text(PLANNING_PROBE)
        times = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, str(probe), str(self.work / f"dag{n}.py")],
                cwd=self.work,
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert int(out[1]) == n, out
            times.append(float(out[0]))
        self.figures["dag10000_planning_s"] = statistics.median(times)

    def array(self) -> None:
        (self.peers_state()).mkdir(parents=True, exist_ok=True)
        anchor = self.peers / "plain" / "w5.py"
        flowy, raw = alternate(
            self.project("array", ARRAY_PIPELINE, fresh_artifacts=True),
            lambda: run([sys.executable, str(anchor), "npy"], self.work, self.env),
            self.repeat,
        )
        self.figures["array_flowy_s"] = med(flowy)
        self.figures["array_raw_npy_s"] = med(raw)

    def frame(self) -> None:
        self.peers_state().mkdir(parents=True, exist_ok=True)
        anchor = self.peers / "plain" / "w5.py"
        flowy_run = self.project("frame", FRAME_PIPELINE, fresh_artifacts=True)
        if KEDRO.exists() and KEDRO_PROJECT.exists():
            env = self.env

            def kedro() -> tuple[float, int]:
                return run(
                    [str(KEDRO), "run", "--pipeline", "w5df", "--env", "persist"],
                    KEDRO_PROJECT,
                    env,
                )

            flowy, peer = alternate(flowy_run, kedro, self.repeat)
            self.figures["frame_kedro_pickle_s"] = med(peer)
        else:
            print(
                f"Kedro is not set up ({KEDRO}); run {self.peers}/setup.sh for the Kedro row.",
                file=sys.stderr,
            )
            flowy = [flowy_run() for _ in range(self.repeat + 1)][1:]
        _, raw = alternate(
            flowy_run,
            lambda: run([sys.executable, str(anchor), "npy", "--df"], self.work, self.env),
            max(3, self.repeat // 2),
        )
        memory = [
            run([sys.executable, str(anchor), "mem", "--df"], self.work, self.env) for _ in range(3)
        ]
        self.figures["frame_flowy_s"] = med(flowy)
        self.figures["frame_raw_pickle_s"] = med(raw)
        extra = med(flowy, 1) - med(memory, 1)
        self.figures["frame_peak_over_frame"] = (FRAME_BYTES + max(0.0, extra)) / FRAME_BYTES

    def peers_state(self) -> Path:
        return Path("/tmp/peers/state/work")

    # -- report ------------------------------------------------------------

    def report(self) -> list[tuple[str, float, str, bool | None]]:
        f = self.figures
        rows: list[tuple[str, float, str, bool | None]] = []

        def row(key: str, target: str, met: bool | None) -> None:
            if key in f:
                rows.append((key, f[key], target, met))

        row("startup_1_step_run_s", "<= 0.15 s", f.get("startup_1_step_run_s", 9) <= 0.15)
        row(
            "chain_uncached_ms_per_step", "<= 0.4 ms", f.get("chain_uncached_ms_per_step", 9) <= 0.4
        )
        row("chain_cached_ms_per_step", "<= 0.08 ms", f.get("chain_cached_ms_per_step", 9) <= 0.08)
        if "dag10000_ms_per_step" in f and "chain_uncached_ms_per_step" in f:
            ratio = f["dag10000_ms_per_step"] / f["chain_uncached_ms_per_step"]
            f["dag_over_chain"] = ratio
            row("dag10000_ms_per_step", "", None)
            row("dag_over_chain", "<= 1.2", ratio <= 1.2)
        row("dag10000_planning_s", "< 0.5 s", f.get("dag10000_planning_s", 9) < 0.5)
        if "array_flowy_s" in f:
            startup = self.startup_s if self.startup_s is not None else 0.15
            limit = startup + f["array_raw_npy_s"] / 0.9
            f["array_limit_s"] = limit
            row("array_raw_npy_s", "(anchor)", None)
            row(
                "array_flowy_s",
                f"<= start-up + raw / 0.9 = {limit:.2f} s",
                f["array_flowy_s"] <= limit,
            )
        if "frame_flowy_s" in f:
            row("frame_raw_pickle_s", "(anchor)", None)
            if "frame_kedro_pickle_s" in f:
                ratio = f["frame_flowy_s"] / f["frame_kedro_pickle_s"]
                f["frame_over_kedro"] = ratio
                row("frame_kedro_pickle_s", "(peer)", None)
                row("frame_flowy_s", "", None)
                row("frame_over_kedro", "<= 0.8", ratio <= 0.8)
            else:
                row("frame_flowy_s", "(no Kedro: ratio not measured)", None)
            row("frame_peak_over_frame", "<= 1.2", f["frame_peak_over_frame"] <= 1.2)
        return rows


WORKLOADS = ("startup", "chain", "dag", "array", "frame")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (default: all)"
    )
    parser.add_argument("--repeat", type=int, default=7, help="A B pairs per workload")
    parser.add_argument("--peers", type=Path, default=DEFAULT_PEERS, help="../shared/peers")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    chosen = args.workloads or list(WORKLOADS)
    bench = Bench(args.repeat, args.peers)
    load = os.getloadavg()[0]
    try:
        if ("array" in chosen or "frame" in chosen) and "startup" not in chosen:
            chosen.insert(0, "startup")
        for name in WORKLOADS:
            if name in chosen:
                print(f"... {name}", file=sys.stderr, flush=True)
                getattr(bench, name)()
    finally:
        bench.close()
    rows = bench.report()
    if args.json:
        print(json.dumps({**bench.figures, "load_before": load}, indent=2))
        return
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, load {load:.1f} before; medians of {args.repeat} (A B A B)")
    print(f"{'figure':30} {'value':>10}  target")
    for key, value, target, met in rows:
        mark = "" if met is None else ("  met" if met else "  NOT met")
        print(f"{key:30} {value:10.3f}  {target}{mark}")


if __name__ == "__main__":
    main()
