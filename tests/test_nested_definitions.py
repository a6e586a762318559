"""Nested pipelines when they are built: wiring, every Step option kept, clear errors, views,
and the reference a worker in a fresh process finds a nested step's function by."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flowy import Context, Pipeline, step
from flowy.kernel.errors import PipelineDefinitionError
from flowy.run.steps import Step
from flowy.testing._executor_support import load_path_module

SOURCE = """
from flowy import Context, Pipeline, step


@step
def load() -> list:
    return [1, 2, 3]


@step
def double(raw: list, k: int = 2) -> list:
    return [x * k for x in raw]


@step(outputs=["total"])
def add(double: list) -> int:
    return sum(double)


inner = Pipeline("inner", [double, add], Context(k=3))
middle = Pipeline("middle", [inner.as_step("in1", outputs={"total": "t1"}), inner])
outer = Pipeline("outer", [load, middle.as_step("m", inputs={"raw": "load"})])
"""


@step
def load() -> list[int]:
    return [1, 2, 3]


@step(retries=2, retry_backoff=0.5, timeout=9.0, resources={"cpu": 2}, tags=["heavy"],
      cache="input_hash", when=lambda ctx: ctx.k > 0, register_model="doubled_model")  # fmt: skip
def double(raw: list[int], k: int = 2) -> list[int]:
    return [x * k for x in raw]


@step(outputs=["total"])
def add(double: list[int]) -> int:
    return sum(double)


inner = Pipeline("inner", [double, add], Context(k=3))


def test_every_step_option_is_kept_and_names_are_renamed() -> None:
    outer = Pipeline("outer", [load, inner.as_step("prep", inputs={"raw": "load"})])
    s = outer.steps["prep.double"]
    assert isinstance(s, Step) and s is not double
    for option in ("retries", "retry_backoff", "timeout", "resources", "tags", "cache", "when"):
        assert getattr(s, option) == getattr(double, option), option
    assert s.outputs == ["prep__double"]
    assert s.register_model == {"prep__double": "doubled_model"}
    assert s.parameters == ["load", "k"] and s.has_default("k")
    assert s.fn(load=[1, 2], k=5) == [5, 10]  # called with the outer names
    assert outer.inputs["prep.add"] == ["prep__double"]
    assert outer.producer["total"] == "prep.add"  # the final output keeps its name
    assert outer.context["k"] == 3  # the nested pipeline's context is the default
    assert double.name == "double" and double.outputs == ["double"]  # the original untouched


def test_a_pipeline_in_the_steps_is_wired_by_name() -> None:
    @step
    def raw() -> list[int]:
        return [4]

    outer = Pipeline("outer", [raw, inner], Context(k=10))
    assert list(outer.steps) == ["raw", "inner.double", "inner.add"]
    assert outer.inputs["inner.double"] == ["raw"]  # the outer output named like its parameter
    assert outer.context["k"] == 10  # the outer context wins
    assert outer.steps["inner.double"].fn is double.fn  # nothing renamed: the function itself


def test_renamed_parameters_and_two_copies() -> None:
    outer = Pipeline(
        "outer",
        [
            load,
            inner.as_step("a", inputs={"raw": "load"}, outputs={"total": "a_total"}),
            inner.as_step("b", inputs={"raw": "load"}, outputs=["total"], params={"k": "b_k"}),
        ],
    )
    assert outer.params["a.double"] == ["k"] and outer.params["b.double"] == ["b_k"]
    assert dict(outer.context) == {"k": 3, "b_k": 3}
    when = outer.steps["b.double"].when
    assert when is not None
    assert when(Context(b_k=1, k=0)) is True  # `when` sees its own k: the outer b_k
    assert when(Context(b_k=0, k=1)) is False
    assert {outer.producer["a_total"], outer.producer["total"]} == {"a.add", "b.add"}


def test_two_levels_of_nesting(tmp_path: Path) -> None:
    module = load_path_module(tmp_path, "nested_two_levels", SOURCE)
    outer = module.outer
    assert list(outer.steps) == [
        "load", "m.in1.double", "m.in1.add", "m.inner.double", "m.inner.add",
    ]  # fmt: skip
    assert outer.nests == {"m": "middle", "m.in1": "inner", "m.inner": "inner"}
    assert outer.inputs["m.in1.double"] == ["load"] and outer.inputs["m.inner.double"] == ["load"]
    assert outer.producer["t1"] == "m.in1.add" and outer.producer["total"] == "m.inner.add"
    fn = outer.steps["m.in1.add"].fn
    assert fn(m__in1__double=[1, 2]) == 3  # one renaming over the original, not two wrappers
    assert fn.fn is module.add.fn


def test_a_fresh_process_finds_a_nested_step_by_its_reference(tmp_path: Path) -> None:
    """What a spawned local worker or a Dask worker does: import by the task's StepRef."""
    module = load_path_module(tmp_path, "nested_by_ref", SOURCE)
    ref = module.outer.steps["m.in1.double"].ref
    assert ref.module == "flowy.run.renamed" and "<" not in ref.qualname
    code = (
        "import json, sys\n"
        "from flowy.kernel.records import StepRef\n"
        "from flowy.run.worker import resolve_step_function\n"
        "fn = resolve_step_function(StepRef(*json.loads(sys.argv[1])))\n"
        "print(json.dumps(fn(load=[1, 2], k=4)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps([ref.module, ref.qualname, ref.path])],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [4, 8]


def test_a_step_defined_in_a_function_stays_in_this_process() -> None:
    @step
    def local(raw: list[int]) -> int:
        return len(raw)

    nested = Pipeline("n", [local])
    outer = Pipeline("outer", [load, nested.as_step(inputs={"raw": "load"})])
    assert "<" in outer.steps["n.local"].ref.qualname  # executors run it in-process


def _error(*steps: object, **kwargs: object) -> str:
    with pytest.raises(PipelineDefinitionError) as info:
        Pipeline("outer", list(steps), **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_a_pipeline_nested_in_itself() -> None:
    same_name = Pipeline("outer", [double, add])
    message = _error(load, same_name.as_step("x", inputs={"raw": "load"}))
    assert "Pipeline 'outer' is nested in itself (as 'x')" in message
    deeper = Pipeline("middle", [same_name.as_step("y")])
    message = _error(load, deeper.as_step("x", inputs={"raw": "load"}))
    assert "nested in itself (as 'x.y')" in message
    assert "directly or through another" in message


def test_an_output_the_nested_pipeline_does_not_have() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        inner.as_step(outputs={"totl": "t"})
    assert "outputs= names 'totl', which pipeline 'inner' does not make" in str(info.value)
    assert "Its outputs: double, total" in str(info.value)
    with pytest.raises(PipelineDefinitionError, match="got the string 'total'"):
        inner.as_step(outputs="total")  # type: ignore[arg-type]


def test_an_input_nothing_in_the_outer_pipeline_makes() -> None:
    message = _error(load, inner.as_step(inputs={"raw": "data"}))
    assert "nested pipeline 'inner' takes 'raw' from 'data', but no step of 'outer'" in message
    assert "Outputs available: double, load, total" not in message  # inner's own are private
    assert "Outputs available: inner__double, load, total" in message
    with pytest.raises(PipelineDefinitionError, match="inputs= names 'rwa'.*It takes: k, raw"):
        inner.as_step(inputs={"rwa": "load"})
    with pytest.raises(PipelineDefinitionError, match="'raw' is in both inputs= and params="):
        inner.as_step(inputs={"raw": "load"}, params={"raw": "x"})


def test_names_collisions_and_conflicting_defaults() -> None:
    with pytest.raises(PipelineDefinitionError, match="Invalid nested pipeline name 'a.b'"):
        inner.as_step("a.b")
    message = _error(
        load, inner.as_step(inputs={"raw": "load"}), inner.as_step(inputs={"raw": "load"})
    )
    assert "nests two pipelines as 'inner'" in message
    message = _error(
        load, inner.as_step("a", inputs={"raw": "load"}), inner.as_step("b", inputs={"raw": "load"})
    )
    assert "output 'total' is made by both 'a.add' and 'b.add'" in message
    assert "as_step(outputs={'total': 'other_name'})" in message
    other = Pipeline("other", [double], Context(k=4))
    message = _error(
        load,
        inner.as_step("a", inputs={"raw": "load"}),
        other.as_step("b", inputs={"raw": "load"}),
    )
    assert "nested pipelines 'a' and 'b' give parameter 'k' different values (3 and 4)" in message
    both = [inner.as_step("a", inputs={"raw": "load"}), other.as_step("b", inputs={"raw": "load"})]
    assert Pipeline("outer", [load, *both], Context(k=1)).context["k"] == 1  # the outer decides
    with pytest.raises(PipelineDefinitionError, match="would take both 'raw' and 'k' as 'load'"):
        Pipeline("outer", [load, inner.as_step(inputs={"raw": "load"}, params={"k": "load"})])


def test_the_dag_views_group_nested_steps(tmp_path: Path) -> None:
    outer = load_path_module(tmp_path, "nested_views", SOURCE).outer
    text = outer.visualize("text")
    assert "  nested pipelines:\n    m = middle (4 steps)\n    m.in1 = inner (2 steps)" in text
    mermaid = outer.visualize("mermaid").splitlines()
    start = mermaid.index('    subgraph n_m["m (pipeline middle)"]')
    inner_start = mermaid.index('        subgraph n_m_in1["m.in1 (pipeline inner)"]')
    assert start < inner_start < mermaid.index('            s_m_in1_add["m.in1.add"]')
    assert sum(line.strip() == "end" for line in mermaid) == 3 and mermaid[1].strip().startswith(
        "s_load"
    )
    dot = outer.visualize("dot")
    assert 'subgraph "cluster_m" { label="m (pipeline middle)"; style=dashed;' in dot
    assert '        subgraph "cluster_m.inner"' in dot
    flat = Pipeline("flat", [load, double])  # no nests: no groups
    assert "subgraph" not in flat.visualize("mermaid") and "nested" not in flat.visualize()


def test_declared_inputs_are_renamed_too() -> None:
    @step(inputs=["double"], outputs=["half"])
    def halve(double: list[int], k: int = 1) -> list[int]:
        return [x // 2 for x in double]

    declaring = Pipeline("declaring", [double, halve])
    outer = Pipeline("outer", [load, declaring.as_step("d", inputs={"raw": "load"})])
    assert outer.steps["d.halve"].declared_inputs == ["d__double"]
    assert outer.inputs["d.halve"] == ["d__double"] and outer.params["d.halve"] == ["k"]
    assert outer.steps["d.double"].declared_inputs is None  # still classified by the pipeline
    assert outer.inputs["d.double"] == ["load"]
