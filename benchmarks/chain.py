"""Benchmark pipeline: a chain of N trivial ``+1`` steps (N from FLOWY_BENCH_STEPS, default 100).

The same workload as the peers' W2 row (../shared/peers): each step takes the
previous step's output and returns it plus one; every output is persisted
through the JSON materializer and every step is recorded in SQLite.
"""

import os

from flowy import Pipeline, step

N = int(os.environ.get("FLOWY_BENCH_STEPS", "100"))


def build() -> Pipeline:
    steps = []

    @step(name="s0")
    def s0() -> int:
        return 0

    steps.append(s0)
    for i in range(1, N):
        namespace: dict = {"step": step}
        exec(  # one real function per step, each taking the previous output by name
            f"@step(name='s{i}')\ndef s{i}(s{i - 1}):\n    return s{i - 1} + 1\n", namespace
        )
        steps.append(namespace[f"s{i}"])
    return Pipeline(f"chain{N}", steps)


pipeline = build()
