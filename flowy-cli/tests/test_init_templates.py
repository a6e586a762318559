"""`flowy init --template`: each template lands as a runnable project; bad names are refused."""

from __future__ import annotations

import ast

import pytest
from click.testing import CliRunner
from flowy_cli.init import TEMPLATES, init


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_each_template_writes_its_own_pipeline(tmp_path, template):
    result = CliRunner().invoke(init, [str(tmp_path / "p"), "--template", template])
    assert result.exit_code == 0, result.output
    source = (tmp_path / "p" / "pipeline.py").read_text()
    ast.parse(source)  # a real Python file
    assert "Pipeline(" in source
    expected = {"sklearn": "sklearn", "pytorch": "torch", "tensorflow": "keras", "basic": "numpy"}
    assert expected[template] in source
    assert (tmp_path / "p" / ".flowy").is_dir()


def test_unknown_template_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(init, [str(tmp_path), "--template", "jax"])
    assert result.exit_code == 2
    assert "'jax' is not one of" in result.output
