"""`flowy materializers [--json]` and `flowy materializers which TYPE` (flowy_cli.materializers)."""

from __future__ import annotations

import importlib.util
import json

import flowy_cli  # noqa: F401 - the `flowy materializers` commands live there
import pytest
from click.testing import CliRunner
from flowy_cli import materializers as cmd


@pytest.fixture(autouse=True)
def explicit_plugins(monkeypatch, plugins):
    monkeypatch.setattr(cmd, "plugin_manager", lambda: plugins)


def invoke(*args: str) -> str:
    from flowy_cli import output

    output.console.cache_clear()  # the console binds sys.stdout, which CliRunner swaps
    result = CliRunner().invoke(cmd.materializers, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_json_lists_every_materializer_with_its_facts():
    rows = {r["name"]: r for r in json.loads(invoke("--json"))["materializers"]}
    assert {"json", "numpy", "pandas", "sklearn", "torch", "torch_module", "tensorflow",
            "keras", "pickle"} <= set(rows)  # fmt: skip
    assert rows["pandas"]["types"][0] == "pandas.DataFrame"
    assert rows["pickle"]["safe"] is False and rows["numpy"]["safe"] is True
    assert rows["json"]["version"] == "1" and rows["sklearn"]["version"] == "1"
    assert all(r["available"] for r in rows.values())


def test_missing_framework_is_listed_as_unavailable_with_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tensorflow" else real(n, *a)
    )
    rows = {r["name"]: r for r in json.loads(invoke("--json"))["materializers"]}
    assert rows["tensorflow"]["available"] is False
    assert "flowy-materializers[tensorflow]" in rows["tensorflow"]["reason"]
    assert rows["numpy"]["available"] is True
    assert "no" in invoke()


def test_which_walks_the_mro():
    out = json.loads(invoke("which", "collections.OrderedDict", "--json"))
    assert [m["class"] for m in out["mro"]][:2] == ["collections.OrderedDict", "builtins.dict"]
    assert out["order"] == ["torch", "json"] and out["chosen"] == "torch"
    text = invoke("which", "pandas.DataFrame")
    # The Arrow matrix materializer is asked first; a frame it refuses goes to Parquet.
    flat = " ".join(text.split())
    assert "Depends on the value: pandas_arrow if it accepts it" in flat
    assert "otherwise pandas (DataFrame and Series)" in flat and "priority" in flat


def test_which_unknown_type_is_a_clear_error():
    from flowy.kernel.errors import FlowyError

    with pytest.raises(FlowyError, match="Cannot import the type"):
        CliRunner().invoke(cmd.materializers, ["which", "nope.Thing"], catch_exceptions=False)
