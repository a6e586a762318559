"""Validated stack options are remembered per project, so a run needs no pydantic.

Real files throughout: a component class and its lazily named Options model in
a module written to disk, the project's cache file, and a `flowy run` in a
subprocess that reports whether pydantic was imported.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.component import LazyOptions
from flowy.kernel.errors import ConfigError
from flowy.stacks import options_cache
from flowy.stacks.stackfile import validate_options

COMPONENT = """
from flowy.kernel.contracts import LazyOptions


class Thing:
    Options = LazyOptions("{module}_options:ThingOptions")

    def __init__(self, size: int = 1, label: str = "x") -> None:
        self.size, self.label = size, label
"""
MODEL = """
from pydantic import BaseModel, ConfigDict, Field


class ThingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(1, ge=1)
    label: str = "{default}"
"""


@pytest.fixture
def component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[type, Path]:
    name = f"cached_thing_{os.getpid()}_{id(tmp_path)}"
    (tmp_path / f"{name}.py").write_text(COMPONENT.format(module=name))
    model = tmp_path / f"{name}_options.py"
    model.write_text(MODEL.format(default="x"))
    (tmp_path / ".flowy").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    options_cache._loaded.clear()
    return module.Thing, model


def resolve(cls: type, options: dict[str, Any], project: Path, raw: Any = None) -> Any:
    calls: list[int] = []

    def validate() -> dict[str, Any]:
        calls.append(1)
        return validate_options(cls, options, "stack 't'", "executor", "thing 1.0")

    result = options_cache.validated(
        cls,
        "thing 1.0",
        raw=options if raw is None else raw,
        options=options,
        project=project,
        validate=validate,
    )
    return result, len(calls)


def test_the_lazy_model_is_imported_on_use(component: tuple[type, Path]) -> None:
    cls, _ = component
    declared = cls.__dict__["Options"]
    assert isinstance(declared, LazyOptions) and declared.module.endswith("_options")
    assert cls.Options.__name__ == "ThingOptions"
    with pytest.raises(ValueError, match="package.module:Model"):
        LazyOptions("no_colon_here")


def test_a_second_resolution_reads_the_cache(component: tuple[type, Path]) -> None:
    cls, _ = component
    project = component[1].parent
    first, validated_first = resolve(cls, {"size": 3}, project)
    assert first == {"size": 3, "label": "x"} and validated_first == 1
    options_cache._loaded.clear()  # a new process: the cache comes from the file
    again, validated_again = resolve(cls, {"size": 3}, project)
    assert again == first and validated_again == 0
    stored = json.loads((project / ".flowy" / options_cache.CACHE_NAME).read_text())
    assert list(stored["entries"].values()) == [first]
    _, other = resolve(cls, {"size": 4}, project)  # other options: validated
    assert other == 1


def test_editing_the_model_file_is_seen(component: tuple[type, Path]) -> None:
    cls, model = component
    project = model.parent
    assert resolve(cls, {}, project)[0]["label"] == "x"
    model.write_text(MODEL.format(default="changed"))
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    sys.modules.pop(cls.__dict__["Options"].module, None)
    options_cache._loaded.clear()
    result, validations = resolve(cls, {}, project)
    assert validations == 1 and result["label"] == "changed"


def test_env_references_and_errors_are_never_cached(
    component: tuple[type, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cls, model = component
    project = model.parent
    monkeypatch.setenv("THING_LABEL", "s3cr3t-value")
    for _ in range(2):
        result, validations = resolve(
            cls, {"label": "s3cr3t-value"}, project, raw={"label": "{env:THING_LABEL}"}
        )
        assert validations == 1 and result["label"] == "s3cr3t-value"
    cache = project / ".flowy" / options_cache.CACHE_NAME
    assert not cache.exists() or "s3cr3t" not in cache.read_text()
    for _ in range(2):  # a refused option is refused every time, never remembered
        with pytest.raises(ConfigError, match="size"):
            resolve(cls, {"size": 0}, project)


@pytest.mark.parametrize(
    "options",
    [
        {"label": "postgresql://flowy:Qz7-pass@db.example/runs"},  # a URL's password
        {"label": "https://acct.blob.example/c?sv=2024&sig=sig0ZZy77"},  # a signed URL
    ],
)
def test_literal_secrets_are_never_copied_to_the_cache(
    component: tuple[type, Path], options: dict[str, Any]
) -> None:
    cls, model = component
    project = model.parent
    for _ in range(2):
        assert resolve(cls, options, project)[1] == 1
    cache = project / ".flowy" / options_cache.CACHE_NAME
    assert not cache.exists() or (
        "Qz7" not in cache.read_text() and "sig0" not in cache.read_text()
    )


def test_a_damaged_cache_is_ignored_and_rewritten(component: tuple[type, Path]) -> None:
    cls, model = component
    project = model.parent
    cache = project / ".flowy" / options_cache.CACHE_NAME
    cache.write_text("{not json")
    result, validations = resolve(cls, {"size": 2}, project)
    assert validations == 1 and result["size"] == 2
    assert json.loads(cache.read_text())["version"] == options_cache.CACHE_VERSION


def test_a_repeated_flowy_run_imports_no_pydantic(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text(
        textwrap.dedent(
            """
            from flowy import Pipeline, step

            @step
            def one():
                return 1

            pipeline = Pipeline("p", [one])
            """
        )
    )
    probe = (
        "import sys; sys.argv = ['flowy', 'run', 'p.py', '--no-cache']\n"
        "from flowy_cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('PYDANTIC', 'pydantic' in sys.modules)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert "PYDANTIC True" in runs[0]  # the first run validated the default stack's options
    assert "PYDANTIC False" in runs[1]
