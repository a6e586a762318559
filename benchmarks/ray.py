"""Ray executor benchmark (issue 17): 8 CPU-bound steps of ~1 s on Ray with 2 CPUs.

Whole runs (``run_pipeline`` of a freshly loaded pipeline file into a fresh project,
recording included) of 8 independent pure-Python steps of about one second each:

* sequential: the ``local`` executor with ``max_workers=1`` (the anchor);
* ``ray`` on a 2-CPU local Ray instance that is already running (this process called
  ``ray.init(num_cpus=2)`` first, as a notebook or a ``ray job`` driver has; the
  executor uses that connection), its workers at the priority the executor gives
  the instances it starts (``RAY_worker_niceness=0``). Target: at least 1.7x sequential;
* the ``local`` executor with ``max_workers=2``, beside them: what another parallel
  executor got from the machine at the same time;
* ``ray`` starting its own 2-CPU instance for the run and stopping it after (Ray's
  start-up included), for reference.

The configurations run alternately (A B C A B C ..., then A B A B ... for the cold
phase), ``--repeat`` times each, and the medians count; the sequential anchor is
measured in each phase beside the Ray configuration it is compared with. A bare
2-process ``multiprocessing`` pool on the same work says how much parallelism the
machine allowed meanwhile.

Run: ``python benchmarks/ray.py [--repeat 3] [--skip-cold]`` (needs flowy-executor-ray).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named ray.py: keep its folder off sys.path, or `import ray` (here and in
# the Ray workers, which get the driver's sys.path) would import this file.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

STEPS = 8
CPU_STEP = """
@step
def {name}(iterations):
    return burn(iterations)
"""


def burn(iterations: int) -> int:
    """A fixed amount of pure-Python work (what every CPU-bound step runs)."""
    x = 0
    for i in range(iterations):
        x += i * i % 7
    return x % 7


def calibrate(seconds: float = 1.0) -> int:
    """Iterations of :func:`burn` that take about ``seconds`` here, now."""
    n = 200_000
    while True:
        took = min(_timed_burn(n) for _ in range(3))
        if took > 0.2:
            return int(n * seconds / took)
        n *= 2


def _timed_burn(n: int) -> float:
    start = time.perf_counter()
    burn(n)
    return time.perf_counter() - start


def ceiling(iterations: int) -> float:
    """Speed-up of a bare 2-process pool on the same work: the most any executor can get."""
    start = time.perf_counter()
    for _ in range(STEPS):
        burn(iterations)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(burn, [iterations] * STEPS)
    return sequential / (time.perf_counter() - start)


def pipeline_source(iterations: int) -> str:
    lines = ["from flowy import Pipeline, step", "", inspect.getsource(burn)]
    names = [f"burn{i}" for i in range(STEPS)]
    lines += [CPU_STEP.format(name=n) for n in names]
    context = f"{{'iterations': {iterations}}}"
    lines.append(f"pipeline = Pipeline('cpu', [{', '.join(names)}], context={context})")
    return "\n".join(lines) + "\n"


class Runner:
    """Whole runs of the CPU pipeline, each from a fresh module into a fresh project."""

    def __init__(self, base: Path, source: str) -> None:
        self.base = base
        self.file = base / "cpu.py"
        self.file.write_text(source)
        self.count = 0

    def run(self, stack: str, options: dict[str, Any]) -> float:
        from flowy.run.engine import run_pipeline

        self.count += 1
        project = self.base / f"project{self.count}"
        (project / ".flowy").mkdir(parents=True)
        os.environ["FLOWY_PROJECT"] = str(project)
        os.environ["FLOWY_HOME"] = str(project / "home")
        start = time.perf_counter()
        module = self._load(f"cpu_bench_{self.count}")
        result = run_pipeline(
            module.pipeline, stack=stack, project=project, executor_options=options, no_cache=True
        )
        took = time.perf_counter() - start
        assert result.ok, {k: v.error for k, v in result.steps.items() if v.error}
        shutil.rmtree(project, ignore_errors=True)
        return took

    def _load(self, name: str) -> Any:
        spec = importlib.util.spec_from_file_location(name, self.file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.__flowy_path__ = str(self.file)  # type: ignore[attr-defined]
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


Config = tuple[str, dict[str, Any]]


def alternate(runner: Runner, configs: list[Config], repeat: int) -> list[list[float]]:
    """A B A B ... (or A B C A B C ...): ``repeat`` whole runs of each, interleaved."""
    times: list[list[float]] = [[] for _ in configs]
    for _ in range(repeat):
        for i, config in enumerate(configs):
            times[i].append(runner.run(*config))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold-start rows")
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_worker_niceness", "0")  # as the executor's own instance has
    base = Path(tempfile.mkdtemp(prefix="flowy-bench-ray-"))
    sequential = ("local", {"max_workers": 1})
    rows: list[tuple[str, str, str]] = []
    ok = True
    try:
        iterations = calibrate()
        runner = Runner(base, pipeline_source(iterations))
        runner.run("local", {"max_workers": 1})  # imports and first-run costs, not measured
        ceilings = [ceiling(iterations)]

        import ray

        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
                 log_to_driver=False)  # fmt: skip
        try:
            runner.run("ray", {})  # Ray's workers import flowy once; not measured
            configs = [sequential, ("ray", {}), ("local", {"max_workers": 2})]
            seq, warm, local = (
                statistics.median(t) for t in alternate(runner, configs, args.repeat)
            )
        finally:
            ray.shutdown()
        ceilings.append(ceiling(iterations))
        ok &= seq / warm >= 1.7
        rows += [
            (f"sequential (local, max_workers=1), median of {args.repeat}", f"{seq:.2f} s", ""),
            (
                "ray, 2-CPU local instance already running",
                f"{warm:.2f} s",
                f"{seq / warm:.2f}x; target >= 1.7x",
            ),
            (
                "local parallel (max_workers=2), beside them",
                f"{local:.2f} s",
                f"{seq / local:.2f}x; what another executor got meanwhile",
            ),
        ]
        if not args.skip_cold:
            cold_configs = [sequential, ("ray", {"num_cpus": 2})]
            seq_c, cold = alternate(runner, cold_configs, args.repeat)
            t_seq_c, t_cold = statistics.median(seq_c), statistics.median(cold)
            rows += [
                ("sequential, beside the cold runs", f"{t_seq_c:.2f} s", ""),
                (
                    "ray, instance started and stopped by the run",
                    f"{t_cold:.2f} s",
                    f"{t_seq_c / t_cold:.2f}x (Ray's start-up included); for reference",
                ),
            ]
        rows.append(
            (
                "ceiling: the same work in a bare 2-process Pool",
                "",
                f"{min(ceilings):.2f}x..{max(ceilings):.2f}x (what this machine allowed)",
            )
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print(f"\n{STEPS} independent CPU-bound steps of ~1 s, whole runs, alternating (A B C, A B)")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>8}  {note}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
