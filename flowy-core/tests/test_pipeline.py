import pytest
from flowy import Context, Pipeline, step
from flowy.kernel.errors import ParameterError, PipelineDefinitionError


@step
def load(n):
    return list(range(n))


@step
def double(load):
    return [x * 2 for x in load]


@step
def total(double, offset=0):
    return sum(double) + offset


def test_inputs_inferred_from_upstream_outputs_rest_from_context():
    p = Pipeline("p", [total, load, double], context=Context(n=3))
    assert p.inputs == {"load": [], "double": ["load"], "total": ["double"]}
    assert p.params == {"load": ["n"], "double": [], "total": ["offset"]}
    assert p.order == ["load", "double", "total"]
    assert p.upstream("total") == ["double"]
    assert p.descendants("load") == {"double", "total"}
    assert p.known_params == {"n", "offset"}


def test_visualize_shows_every_step_and_edge():
    text = Pipeline("p", [load, double, total], context={"n": 3}).visualize()
    assert "pipeline p (3 steps)" in text
    assert "[0] load(n=3) -> load" in text
    assert "[2] total(double, offset=0) -> total" in text and "ctx" not in text
    assert "load --> double" in text


def test_cycle_names_the_steps():
    @step(outputs=["a"])
    def s1(b):
        return b

    @step(outputs=["b"])
    def s2(a):
        return a

    with pytest.raises(PipelineDefinitionError, match="has a cycle: s1 -> s2 -> s1|s2 -> s1 -> s2"):
        Pipeline("cyc", [s1, s2])


def test_two_producers_of_one_output():
    @step(outputs=["load"])
    def other():
        return 1

    with pytest.raises(PipelineDefinitionError, match="produced by both 'load' and 'other'"):
        Pipeline("dup", [load, other], context={"n": 1})


def test_declared_input_nobody_produces():
    @step(inputs=["features"])
    def train(features):
        return features

    with pytest.raises(
        PipelineDefinitionError, match="needs input 'features' but no step produces"
    ):
        Pipeline("p", [train])


def test_missing_parameter_is_named_with_the_fix():
    pipeline = Pipeline("p", [load, double])  # the run may still give n (issue #12)
    with pytest.raises(ParameterError, match="parameter 'n' .*--param n=VALUE"):
        pipeline.context_for({})


def test_duplicate_step_names_and_non_steps():
    with pytest.raises(PipelineDefinitionError, match="two steps named 'load'"):
        Pipeline("p", [load, load], context={"n": 1})
    with pytest.raises(PipelineDefinitionError, match="is not a step"):
        Pipeline("p", [lambda: 1])
    with pytest.raises(PipelineDefinitionError, match="Invalid pipeline name .bad name!."):
        Pipeline("bad name!", [load], context={"n": 1})


def test_param_overrides_checked():
    p = Pipeline("p", [load, double, total], context=Context(n=3))
    ctx = p.context_for({"n": 5, "offset": 1})
    assert ctx.n == 5 and ctx.offset == 1 and p.context.n == 3
    with pytest.raises(
        ParameterError, match="Unknown parameter\\(s\\) nn.*Known parameters: n, offset"
    ):
        p.context_for({"nn": 1})
