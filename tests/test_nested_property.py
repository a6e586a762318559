"""Random DAGs with random nested pipelines run every step exactly once, in dependency order
(hypothesis).

Each random DAG's steps are spread over random nests (none, ``a``, ``a.b``, ``c``);
each nested pipeline is built from its own steps and the pipelines nested in it and
exports what the steps outside it read (plus, at random, its other outputs). The
outer pipeline runs for real (engine, local executor, SQLite store). From the run's
records: every step ran once under its nested name, each started after every step
it reads had finished, and each computed the value the flat DAG gives.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from flowy import Pipeline
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.tracking.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_counter = itertools.count()
Path_ = tuple[str, ...]
PATHS: list[Path_] = [(), ("a",), ("a", "b"), ("c",)]


@st.composite
def nested_dags(draw: st.DrawFn) -> tuple[dict[int, list[int]], dict[int, Path_], bool]:
    """(step -> the earlier steps it reads, step -> its nest path, export every output?)."""
    n = draw(st.integers(min_value=1, max_value=8))
    dag = {
        i: sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)
    }
    where = {i: draw(st.sampled_from(PATHS)) for i in range(n)}
    return dag, where, draw(st.booleans())


def build(
    dag: dict[int, list[int]], where: dict[int, Path_], export_all: bool, tag: str
) -> Pipeline:
    steps: dict[int, Step] = {}
    for i, parents in dag.items():
        args = ", ".join(f"{tag}_{p}" for p in parents)
        body = " + ".join([str(i)] + [f"{tag}_{p}" for p in parents])
        namespace: dict[str, object] = {"__name__": __name__}
        exec(f"def {tag}_{i}({args}):\n    return {body}\n", namespace)
        globals()[f"{tag}_{i}"] = fn = namespace[f"{tag}_{i}"]  # importable, as by a worker
        steps[i] = Step(fn, cache=False)  # type: ignore[arg-type]
    readers = {i: [c for c, ps in dag.items() if i in ps] for i in dag}

    def inside(i: int, path: Path_) -> bool:
        return where[i][: len(path)] == path

    def pipeline(path: Path_) -> Pipeline | None:
        members: list[Any] = [steps[i] for i in dag if where[i] == path]
        for child in PATHS:
            if len(child) == len(path) + 1 and child[: len(path)] == path:
                nested = pipeline(child)
                if nested is None:
                    continue
                exported = [
                    f"{tag}_{i}"
                    for i in dag
                    if inside(i, child)
                    and (export_all or any(not inside(r, child) for r in readers[i]))
                ]
                members.append(nested.as_step(child[-1], outputs=exported))
        if not members:
            return None
        return Pipeline("_".join((tag, *path)), members)

    built = pipeline(())
    assert built is not None
    return built


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=nested_dags())
def test_every_step_runs_once_in_dependency_order(
    case: tuple[dict[int, list[int]], dict[int, Path_], bool],
    project: Path,
    plugins: FlowyPlugins,
) -> None:
    dag, where, export_all = case
    tag = f"n{next(_counter)}"
    outer = build(dag, where, export_all, tag)
    names = {i: ".".join((*where[i], f"{tag}_{i}")) for i in dag}
    assert sorted(outer.steps) == sorted(names.values())
    result = run_pipeline(outer, plugins=plugins, project=project)
    assert result.ok, {n: s.error for n, s in result.steps.items()}
    value: dict[int, int] = {}
    for i, parents in dag.items():
        value[i] = i + sum(value[p] for p in parents)
    with Client(plugins=plugins, project=project) as client:
        records = client.steps(result.run_id)
    assert sorted(r.step for r in records) == sorted(names.values())  # each exactly once
    by_name = {r.step: r for r in records}
    for i, parents in dag.items():
        record = by_name[names[i]]
        assert record.status == "completed"
        for p in parents:
            before = by_name[names[p]]
            assert before.finished_at is not None and before.finished_at <= record.started_at
        (output,) = record.outputs
        assert result[output] == value[i]
