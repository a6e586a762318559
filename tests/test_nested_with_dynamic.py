"""A nested pipeline holding issue 14's other features: a map, a branch chosen at run time
and a streaming input wired from the outer pipeline under another name.

The renamed step must still map over its (renamed) input, branch on its (renamed)
upstream output and receive the outer stream as an iterator, as it would unnested,
on the local executor in this process and in forked workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.testing._executor_support import load_path_module

SOURCE = """
from collections.abc import Iterator

import numpy as np
from flowy import Pipeline, step


@step
def sizes(n: int = 3) -> list:
    return list(range(1, n + 1))


@step(map="sizes")
def square(sizes: int) -> int:
    return sizes * sizes


@step
def route(square: list) -> str:
    return "big" if sum(square) > 10 else "small"


@step(branch=("route", "big"), outputs=["verdict_big"])
def big(square: list) -> str:
    return f"big {sum(square)}"


@step(branch=("route", "small"), outputs=["verdict_small"])
def small(square: list) -> str:
    return f"small {sum(square)}"


@step
def seen(chunks: Iterator[np.ndarray]) -> str:
    return type(chunks).__name__ + ":" + ",".join(str(int(c.sum())) for c in chunks)


@step(outputs=["stream"])
def produce(parts: int = 3) -> Iterator[np.ndarray]:
    for i in range(parts):
        yield np.full(4, i)


inner = Pipeline("inner", [sizes, square, route, big, small, seen])
outer = Pipeline("outer", [produce, inner.as_step("x", inputs={"chunks": "stream"})])
"""


@pytest.mark.parametrize("workers", [1, 2], ids=["sequential", "parallel"])
def test_map_branch_and_stream_inside_a_nested_pipeline(
    workers: int, project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, f"nested_dynamic_{workers}", SOURCE)
    outer = module.outer
    assert outer.steps["x.square"].map == "x__sizes"
    assert outer.steps["x.big"].branch == ("x__route", "big")
    assert outer.inputs["x.seen"] == ["stream"]
    assert set(outer.producer) >= {"verdict_big", "verdict_small", "seen", "x__route"}
    result = run_pipeline(
        outer, plugins=plugins, project=project, executor_options={"max_workers": workers}
    )
    assert result.status == "completed", {n: s.error for n, s in result.steps.items()}
    assert result["x__square"] == [1, 4, 9]
    assert result["verdict_big"] == "big 14"
    assert result.steps["x.small"].status == "skipped"
    kind, sums = result["seen"].split(":")
    assert sums == "0,4,8" and kind != "ndarray"  # an iterator of chunks, not one array
