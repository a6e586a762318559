"""Random DAGs with random maps run every element exactly once, in dependency order (hypothesis).

Each random pipeline runs for real (engine, local executor with two worker
processes, SQLite store). Every output is a list of distinct integers; a step
either maps over one earlier output (its element ``x`` becomes ``7 * x + k``,
so each value still names its element) or takes one to three earlier outputs
whole and makes a new list. Every step call appends ``(step, input)`` to a
marks file as it runs. The test checks, against a plain-Python evaluation of
the same DAG: the results; that each element ran exactly once; and that each
call came after the calls that made its input (an element of a map after the
element it was made from, not after the whole map before it).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

from flowy import Pipeline
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_counter = itertools.count()
MARKS_ENV = "FLOWY_TEST_MAP_MARKS"


def mark(step: str, value: Any) -> None:
    with open(os.environ[MARKS_ENV], "a") as f:
        f.write(json.dumps([step, value]) + "\n")


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[str, list[int]]]:
    """Step i -> ("map", [j]) or ("whole", [j, ...]) over earlier steps; step 0 is a source."""
    n = draw(st.integers(min_value=2, max_value=7))
    shape: list[tuple[str, list[int]]] = [("source", [])]
    for i in range(1, n):
        if draw(st.booleans()):
            shape.append(("map", [draw(st.integers(0, i - 1))]))
        else:
            shape.append(
                ("whole", sorted(draw(st.sets(st.integers(0, i - 1), min_size=1, max_size=3))))
            )
    return shape


def whole_output(i: int, inputs: list[list[int]]) -> list[int]:
    """What a 'whole' step makes: a new list of distinct values, its length from its inputs."""
    length = sum(len(x) for x in inputs) % 4
    return [(i + 1) * 1_000_000 + j for j in range(length)]


def build(shape: list[tuple[str, list[int]]], tag: str, source: list[int]) -> Pipeline:
    steps = []
    for i, (kind, parents) in enumerate(shape):
        name = f"{tag}_{i}"
        args = ", ".join(f"{tag}_{p}" for p in parents)
        if kind == "source":
            body = f"    mark({name!r}, None)\n    return {source!r}\n"
        elif kind == "map":
            body = f"    mark({name!r}, {args})\n    return 7 * {args} + {i}\n"
        else:
            body = f"    mark({name!r}, None)\n    return whole_output({i}, [{args}])\n"
        namespace: dict[str, object] = {
            "__name__": __name__, "mark": mark, "whole_output": whole_output,
        }  # fmt: skip
        exec(f"def {name}({args}):\n{body}", namespace)
        globals()[name] = fn = namespace[name]  # importable by name, as workers find steps
        options: dict[str, Any] = {"cache": False}
        if kind == "map":
            options["map"] = f"{tag}_{parents[0]}"
        steps.append(Step(fn, **options))  # type: ignore[arg-type]
    return Pipeline(f"maps_{tag}", steps)


def evaluate(shape: list[tuple[str, list[int]]], source: list[int]) -> list[list[int]]:
    """The outputs a correct run gives, step by step."""
    out: list[list[int]] = []
    for i, (kind, parents) in enumerate(shape):
        if kind == "source":
            out.append(list(source))
        elif kind == "map":
            out.append([7 * x + i for x in out[parents[0]]])
        else:
            out.append(whole_output(i, [out[p] for p in parents]))
    return out


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=dags(), source=st.lists(st.integers(0, 50), max_size=5, unique=True))
def test_random_dags_with_maps_run_each_element_once_in_dependency_order(
    shape: list[tuple[str, list[int]]],
    source: list[int],
    project: Path,
    plugins: FlowyPlugins,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    tag = f"m{next(_counter)}"
    marks = tmp_path / f"{tag}.marks"
    marks.touch()
    monkeypatch.setenv(MARKS_ENV, str(marks))
    result = run_pipeline(
        build(shape, tag, source), plugins=plugins, executor_options={"max_workers": 2}
    )
    assert result.ok
    expected = evaluate(shape, source)
    for i in range(len(shape)):
        assert result[f"{tag}_{i}"] == expected[i]

    calls = [tuple(json.loads(line)) for line in marks.read_text().splitlines()]
    assert len(calls) == len(set(calls)), "a step or an element ran twice"
    wanted = set()
    for i, (kind, parents) in enumerate(shape):
        if kind == "map":
            wanted.update((f"{tag}_{i}", x) for x in expected[parents[0]])
        else:
            wanted.add((f"{tag}_{i}", None))
    assert set(calls) == wanted
    position = {call: n for n, call in enumerate(calls)}
    for (name, value), n in position.items():
        i = int(name.rsplit("_", 1)[1])
        kind, parents = shape[i]
        if kind == "map":
            p = parents[0]
            if shape[p][0] == "map":  # made by element (value - p) / 7 of the map before
                before = (f"{tag}_{p}", (value - p) // 7)
                assert position[before] < n, f"{name}({value}) ran before its element"
            else:
                assert position[(f"{tag}_{p}", None)] < n
        else:
            for p in parents:
                made_by = [c for c in position if c[0] == f"{tag}_{p}"]
                assert all(position[c] < n for c in made_by), f"{name} ran before {tag}_{p}"
