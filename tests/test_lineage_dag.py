"""Lineage answers match the pipeline's DAG exactly, on random DAGs (hypothesis).

Every random pipeline runs for real (engine, local executor, SQLite store,
JSON artifacts) in one shared store, so lineage must also never leak across
runs and pipelines. Expected answers come from the DAG itself: ancestors are
the transitive predecessors' outputs at their shortest distance, descendants
the transitive successors', direct consumers the direct successors.
"""

from __future__ import annotations

import itertools
from collections import deque
from pathlib import Path

from flowy import Pipeline
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.tracking.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_counter = itertools.count()


@st.composite
def dags(draw: st.DrawFn) -> dict[int, list[int]]:
    """Step index -> indexes of the steps it consumes (always earlier ones)."""
    n = draw(st.integers(min_value=1, max_value=8))
    return {
        i: sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else [] for i in range(n)
    }


def build(dag: dict[int, list[int]], tag: str) -> Pipeline:
    steps = []
    for i, parents in dag.items():
        args = ", ".join(f"{tag}_{p}" for p in parents)
        body = " + ".join([str(i)] + [f"{tag}_{p}" for p in parents])
        namespace: dict[str, object] = {"__name__": __name__}
        exec(f"def {tag}_{i}({args}):\n    return {body}\n", namespace)
        # Importable by name, as a worker resolves a step from its module.
        globals()[f"{tag}_{i}"] = fn = namespace[f"{tag}_{i}"]
        steps.append(Step(fn, cache=False))  # type: ignore[arg-type]
    return Pipeline(f"dag_{tag}", steps)


def distances(start: int, edges: dict[int, list[int]]) -> dict[int, int]:
    seen: dict[int, int] = {}
    queue = deque([(start, 0)])
    while queue:
        node, d = queue.popleft()
        for nxt in edges[node]:
            if nxt not in seen:
                seen[nxt] = d + 1
                queue.append((nxt, d + 1))
    return seen


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(dag=dags())
def test_lineage_matches_random_dags(
    dag: dict[int, list[int]], project: Path, plugins: FlowyPlugins
) -> None:
    tag = f"p{next(_counter)}"
    result = run_pipeline(build(dag, tag), plugins=plugins, project=project)
    assert result.ok
    ids = {i: result.artifacts[f"{tag}_{i}"].artifact_id for i in dag}
    children: dict[int, list[int]] = {i: [] for i in dag}
    for i, parents in dag.items():
        for p in parents:
            children[p].append(i)
    with Client(plugins=plugins, project=project) as client:
        for i in dag:
            graph = client.lineage(ids[i])
            assert graph.upstream == {ids[a]: d for a, d in distances(i, dag).items()}
            assert graph.downstream == {ids[c]: d for c, d in distances(i, children).items()}
            assert set(graph.artifacts) == {ids[i], *graph.upstream, *graph.downstream}
            steps = {n.step: n for n in graph.steps}
            expected_steps = {i, *distances(i, dag), *distances(i, children)}
            assert set(steps) == {f"{tag}_{s}" for s in expected_steps}
            for s in expected_steps:
                node = steps[f"{tag}_{s}"]
                assert node.outputs == {f"{tag}_{s}": ids[s]}
                if s in distances(i, dag) or s == i:  # an ancestor's inputs are all in the graph
                    assert node.inputs == {f"{tag}_{p}": ids[p] for p in dag[s]}
            consumers = {u.step for u in client.artifact_uses(ids[i]) if u.direction == "consumed"}
            assert consumers == {f"{tag}_{c}" for c in children[i]}
        produced = [
            info.artifact_id
            for use, info in client.run_artifacts(result.run_id)
            if use.direction == "produced"
        ]
        assert sorted(produced) == sorted(ids.values())


def test_cached_steps_point_at_the_earlier_artifact(project: Path, plugins: FlowyPlugins) -> None:
    """A cache hit records edges to the artifact an earlier run wrote (documented)."""
    tag = f"c{next(_counter)}"
    dag = {0: [], 1: [0]}
    pipeline = build(dag, tag)
    for s in pipeline.steps.values():
        s.cache = ["code_hash", "input_hash"]
    first = run_pipeline(pipeline, plugins=plugins, project=project)
    second = run_pipeline(pipeline, plugins=plugins, project=project)
    assert second.steps[f"{tag}_1"].status == "cached"
    aid = first.artifacts[f"{tag}_1"].artifact_id
    assert second.artifacts[f"{tag}_1"].artifact_id == aid
    with Client(plugins=plugins, project=project) as client:
        producers = [u.run_id for u in client.artifact_uses(aid) if u.direction == "produced"]
        assert producers == [first.run_id, second.run_id]
        graph = client.lineage(aid, downstream=False)
        assert set(graph.upstream) == {first.artifacts[f"{tag}_0"].artifact_id}
