"""Parameters: checked when a run starts, validated and coerced from the steps' annotations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal, Optional

import pytest
from flowy import Context, Pipeline, step
from flowy.kernel.errors import ParameterError, PipelineDefinitionError
from flowy.run.params import from_text, load_file


@step
def make(
    n: int,
    lr: float,
    flag: bool,
    xs: list[int],
    weights: dict[str, float],
    mode: Literal["a", "b"],
    cap: Optional[int],  # noqa: UP045 - Optional is what the issue names
    tag,
    name: str = "x",
) -> dict:
    return {}


@step
def use(make: dict, n: int) -> int:
    return n


ALL = {"lr": 1, "flag": False, "xs": [1], "weights": {}, "mode": "a", "cap": None, "tag": "t"}


def typed(**context: object) -> Pipeline:
    return Pipeline("typed", [make, use], context=context)


def test_a_missing_parameter_builds_and_fails_when_the_run_starts_naming_the_fix() -> None:
    pipeline = typed(**ALL)  # n is missing: the run may still give it
    with pytest.raises(ParameterError) as caught:
        pipeline.context_for({})
    message = str(caught.value)
    assert "'n' (taken by steps 'make', 'use')" in message
    assert "--param n=VALUE" in message and "pipeline.run(n=...)" in message
    assert pipeline.context_for({"n": 2})["n"] == 2


def test_every_missing_parameter_is_named_at_once() -> None:
    with pytest.raises(ParameterError, match="'n' .*'flag' .*--param n=VALUE --param flag=VALUE"):
        typed(**{k: v for k, v in ALL.items() if k != "flag"}).context_for({})


def test_values_are_coerced_to_the_annotation() -> None:
    ctx = typed(**ALL).context_for({"n": "3", "lr": 2, "flag": "true", "cap": "4"})
    assert ctx["n"] == 3 and type(ctx["n"]) is int
    assert ctx["lr"] == 2.0 and type(ctx["lr"]) is float
    assert ctx["flag"] is True and ctx["cap"] == 4
    assert ctx["tag"] == "t"  # unannotated: as given


def test_a_value_of_the_wrong_type_names_parameter_step_and_type() -> None:
    with pytest.raises(ParameterError) as caught:
        typed(**ALL).context_for({"n": "abc"})
    message = str(caught.value)
    assert "Parameter 'n'" in message and "must be int" in message
    assert "steps 'make', 'use'" in message and "got 'abc'" in message
    assert "--param n=VALUE" in message
    with pytest.raises(ParameterError, match="must be Literal\\['a', 'b'\\].*got 'c'"):
        typed(**ALL).context_for({"n": 1, "mode": "c"})
    with pytest.raises(ParameterError, match="must be float .*step 'make'"):
        typed(**{**ALL, "lr": "fast"}).context_for({"n": 1})  # the context is checked too


@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        ("n", "3", 3),
        ("lr", "0.5", 0.5),
        ("lr", "3", 3.0),
        ("flag", "true", True),
        ("flag", "false", False),
        ("flag", "1", True),
        ("flag", "0", False),
        ("xs", "[1, 2]", [1, 2]),
        ("weights", '{"a": 1}', {"a": 1.0}),
        ("mode", "b", "b"),
        ("cap", "null", None),
        ("cap", "7", 7),
        ("name", "007", "007"),  # str stays text, not the number 7
        ("tag", "[1, 2]", [1, 2]),  # unannotated: JSON when it parses
        ("tag", "hello", "hello"),  # else the text
    ],
)
def test_command_line_text_follows_the_annotation(param: str, text: str, expected: object) -> None:
    pipeline = typed(**ALL)
    value = from_text(pipeline.name, pipeline.annotations, {param: text})[param]
    assert value == expected and type(value) is type(expected)


def test_bad_text_names_the_type() -> None:
    pipeline = typed(**ALL)
    with pytest.raises(ParameterError, match="'xs'.*must be list\\[int\\].*got '\\[1, \"x\"\\]'"):
        from_text(pipeline.name, pipeline.annotations, {"xs": '[1, "x"]'})
    with pytest.raises(ParameterError, match="'flag'.*must be bool.*got 'maybe'"):
        from_text(pipeline.name, pipeline.annotations, {"flag": "maybe"})


def test_two_steps_annotating_one_parameter_differently_is_a_build_error() -> None:
    @step
    def a(k: int) -> int:
        return k

    @step
    def b(k: str) -> str:
        return k

    with pytest.raises(
        PipelineDefinitionError, match="'k' is annotated int in step 'a' but str in step 'b'"
    ):
        Pipeline("p", [a, b], context={"k": 1})


def test_an_unresolvable_annotation_is_left_unchecked() -> None:
    @step
    def f(model: NotImportedHere) -> int:  # type: ignore[name-defined]  # noqa: F821
        return 1

    assert Pipeline("p", [f]).context_for({"model": "anything"})["model"] == "anything"


class Model:
    """A plain class: pydantic checks it with isinstance."""


def test_a_plain_class_is_checked_with_isinstance_and_a_typevar_is_unchecked() -> None:
    from typing import TypeVar

    T = TypeVar("T")

    @step
    def f(model: Model, anything: T) -> int:  # type: ignore[valid-type]
        return 1

    pipeline = Pipeline("p", [f])
    model = Model()
    assert pipeline.context_for({"model": model, "anything": "x"})["model"] is model
    with pytest.raises(ParameterError, match="'model'.*must be Model"):
        pipeline.context_for({"model": "not a model", "anything": 1})


def test_unknown_parameter_suggests_the_nearest_name() -> None:
    with pytest.raises(ParameterError, match="Did you mean 'name' for 'nmae'\\?"):
        typed(**ALL).context_for({"nmae": "x", "n": 1})


def test_parameter_files(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"n": 3, "xs": [1]}')
    (tmp_path / "p.toml").write_text("n = 3\nxs = [1]\n")
    (tmp_path / "p.yaml").write_text("n: 3\nxs: [1]\n")
    for name in ("p.json", "p.toml", "p.yaml"):
        assert load_file(tmp_path / name) == {"n": 3, "xs": [1]}
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ParameterError, match="must hold a mapping"):
        load_file(tmp_path / "list.json")
    (tmp_path / "bad.toml").write_text("n = = 3")
    with pytest.raises(ParameterError, match="bad.toml is not valid toml"):
        load_file(tmp_path / "bad.toml")
    (tmp_path / "p.ini").write_text("n=3")
    with pytest.raises(ParameterError, match="must end in .json, .toml, .yaml or .yml"):
        load_file(tmp_path / "p.ini")


def test_a_yaml_file_without_pyyaml_says_what_to_do(tmp_path: Path) -> None:
    """In a fresh interpreter where ``import yaml`` fails, as when PyYAML is not installed."""
    (tmp_path / "p.yaml").write_text("n: 3\n")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from pathlib import Path\n"
        "from flowy.run.params import load_file\n"
        f"load_file(Path({str(tmp_path / 'p.yaml')!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode != 0
    assert "needs PyYAML" in done.stderr and "pip install pyyaml" in done.stderr
    assert "as .toml or .json" in done.stderr


def test_import_flowy_does_not_import_pydantic() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import flowy, sys; print('pydantic' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "False"


def test_context_values_reach_the_run_context_coerced() -> None:
    ctx = typed(**ALL).context_for({"n": 1})
    assert isinstance(ctx, Context) and ctx.to_dict()["lr"] == 1.0
