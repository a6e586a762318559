"""Nested pipeline benchmarks (issue 14, pipelines as steps), printed as one table.

* building: an outer pipeline nesting a 50-step pipeline 10 times (500 steps),
  and the same 500 steps two levels deep, against building those 500 steps flat
  (flattening happens when a pipeline is built, so this is all it costs);
* running: ``flowy run`` of 4 copies of a 5-step chain nested in one pipeline,
  against the same 20 steps written flat, fresh project each, and the fully
  cached re-run of each: nesting should cost nothing at run time (the flattened
  steps are ordinary steps).

Run: ``python benchmarks/nested.py [--repeat N]``. Medians of N.
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
from typing import Any

CHAIN = """
from flowy import Pipeline, step
{steps}
"""

STEP = """
@step
def s{i}({arg}) -> int:
    return {expr}
"""


def chain_source(n: int) -> str:
    """``n`` steps ``s0 -> s1 -> ...``, each adding one (s0 takes ``start``)."""
    steps = [
        STEP.format(
            i=i,
            arg="start: int = 0" if i == 0 else f"s{i - 1}: int",
            expr="start" if i == 0 else f"s{i - 1} + 1",
        )
        for i in range(n)
    ]
    return CHAIN.format(steps="".join(steps))


NESTED_RUN = """
chain = Pipeline("chain", [s0, s1, s2, s3, s4])
copies = [
    chain.as_step(f"c{k}", params={"start": f"start{k}"}, outputs={"s4": f"end{k}"})
    for k in range(4)
]
pipeline = Pipeline("bench", copies, {"start0": 0, "start1": 10, "start2": 20, "start3": 30})
"""


def flat_run_source() -> str:
    steps = []
    for k in range(4):
        for i in range(5):
            arg = f"start{k}: int = {10 * k}" if i == 0 else f"c{k}_s{i - 1}: int"
            expr = f"start{k}" if i == 0 else f"c{k}_s{i - 1} + 1"
            steps.append(f"\n@step\ndef c{k}_s{i}({arg}) -> int:\n    return {expr}\n")
    names = ", ".join(f"c{k}_s{i}" for k in range(4) for i in range(5))
    return CHAIN.format(steps="".join(steps)) + f'\npipeline = Pipeline("bench", [{names}])\n'


def build_times(repeat: int) -> dict[str, float]:
    """Median seconds to build 500 steps: flat, nested once (10 x 50), nested twice."""
    import importlib.util

    folder = Path(tempfile.mkdtemp(prefix="flowy-nested-bench-"))
    try:
        path = folder / "chain50.py"
        path.write_text(chain_source(50))
        spec = importlib.util.spec_from_file_location("chain50", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["chain50"] = module
        spec.loader.exec_module(module)
        from flowy import Pipeline

        steps = [getattr(module, f"s{i}") for i in range(50)]
        inner = Pipeline("chain", steps)

        def copy(k: int) -> Any:
            return inner.as_step(f"c{k}", params={"start": f"start{k}"}, outputs={"s49": f"e{k}"})

        def flat() -> object:
            return [Pipeline(f"flat{k}", steps) for k in range(10)]

        def nested_once() -> object:
            return Pipeline("outer", [copy(k) for k in range(10)])

        def nested_twice() -> object:
            middle = Pipeline("middle", [copy(k) for k in range(5)])
            return Pipeline(
                "outer", [middle.as_step("m0", outputs={}), middle.as_step("m1", outputs={})]
            )

        out = {}
        for label, build in (("flat", flat), ("nested", nested_once), ("two levels", nested_twice)):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                build()
                times.append(time.perf_counter() - started)
            out[label] = statistics.median(times)
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def flowy_run(project: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "run", "p.py:pipeline", "--executor-option",
         "max_workers=1"],
        cwd=project, env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return time.perf_counter() - started


def run_times(source: str, repeat: int) -> tuple[float, float]:
    """Median seconds of a first ``flowy run`` and of the fully cached second one."""
    first, cached = [], []
    for _ in range(repeat):
        folder = Path(tempfile.mkdtemp(prefix="flowy-nested-bench-"))
        try:
            project = folder / "project"
            (project / ".flowy").mkdir(parents=True)
            (project / "p.py").write_text(source)
            env = {**os.environ, "FLOWY_HOME": str(folder / "home"),
                   "FLOWY_PROJECT": str(project)}  # fmt: skip
            first.append(flowy_run(project, env))
            cached.append(flowy_run(project, env))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(first), statistics.median(cached)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    built = build_times(args.repeat)
    nested_run = run_times(chain_source(5) + NESTED_RUN, args.repeat)
    flat_run = run_times(flat_run_source(), args.repeat)
    rows = [
        ("build 500 steps flat (10 pipelines of 50)", built["flat"]),
        ("build 500 steps nested (10 x 50)", built["nested"]),
        ("build 500 steps nested two levels (2 x 5 x 50)", built["two levels"]),
        ("flowy run, 20 steps flat", flat_run[0]),
        ("flowy run, 20 steps nested (4 x 5)", nested_run[0]),
        ("cached re-run, 20 steps flat", flat_run[1]),
        ("cached re-run, 20 steps nested (4 x 5)", nested_run[1]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
