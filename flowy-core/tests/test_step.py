import pytest
from flowy import step
from flowy.kernel.errors import StepDefinitionError
from flowy.run.steps import Step


def test_bare_and_configured_decorator():
    @step
    def plain(x):
        return x + 1

    @step(retries=2, timeout=5, tags=["a"], outputs=["left", "right"], cache="code_hash")
    def split(x):
        return x, x

    assert isinstance(plain, Step) and plain.outputs == ["plain"] and plain(1) == 2
    assert plain.cache == ["code_hash", "input_hash"]
    assert split.retries == 2 and split.timeout == 5 and split.tags == ["a"]
    assert split.cache == ["code_hash"]
    assert split.outputs == ["left", "right"]


def test_split_outputs_tuple_and_dict_and_errors():
    @step(outputs=["a", "b"])
    def two():
        return 1, 2

    assert two.split_outputs((1, 2)) == {"a": 1, "b": 2}
    assert two.split_outputs({"a": 1, "b": 2, "c": 3}) == {"a": 1, "b": 2}
    with pytest.raises(StepDefinitionError, match="without outputs \\['b'\\]"):
        two.split_outputs({"a": 1})
    with pytest.raises(StepDefinitionError, match="returned list"):
        two.split_outputs([1, 2])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be >= 0"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"inputs": ["missing"]}, "declares inputs \\['missing'\\]"),
        ({"outputs": ["a", "a"]}, "outputs must be distinct"),
        ({"cache": ""}, "cache names no strategy"),
        ({"colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(StepDefinitionError, match=message):

        @step(**options)
        def s(x):
            return x


def test_star_args_refused():
    with pytest.raises(StepDefinitionError, match="named parameters only"):

        @step
        def s(*xs):
            return xs
