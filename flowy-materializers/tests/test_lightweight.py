"""Registering and resolving imports no framework; a missing framework breaks nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

FRAMEWORKS = ["numpy", "pandas", "pyarrow", "torch", "tensorflow", "keras", "sklearn", "skops"]

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, tempfile
    import flowy_materializers.plugin
    from flowy.artifacts.store_io import read_artifact, write_artifact
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.plugins import create_plugin_manager

    manager = create_plugin_manager(
        entrypoints=False, plugins=[("flowy-materializers", flowy_materializers.plugin)]
    )
    registry = MaterializerRegistry(manager.registry)
    chosen = [registry.resolve(v)[0].name for v in ({{"a": 1}}, [1, 2], "s", (1,), {{"k": [1.5]}})]
    import flowy_materializers
    available = flowy_materializers.availability()
    heavy = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)
    print(json.dumps({{"chosen": chosen, "heavy": heavy, "n": len(available)}}))
    """
)

PIPELINE = textwrap.dedent(
    """
    import importlib, json, sys
    from flowy import Pipeline, step
    from flowy.run.engine import run_pipeline
    from flowy.kernel.plugins import create_plugin_manager

    plugins = create_plugin_manager(entrypoints=False, plugins=[
        (n, importlib.import_module(m)) for n, m in [
            ("flowy-executor-local", "flowy_executor_local.plugin"),
            ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
            ("flowy-materializers", "flowy_materializers.plugin"),
        ]
    ])

    @step
    def numbers(n):
        return {{"values": list(range(n)), "pairs": (1, 2)}}

    @step
    def total(numbers):
        return sum(numbers["values"])

    result = run_pipeline(Pipeline("plain", [numbers, total], context={{"n": 4}}), plugins=plugins)
    assert result["total"] == 6, result.status
    print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))
    """
)


def run_python(source: str, cwd: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", source.format(FRAMEWORKS=FRAMEWORKS)],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_plugin_import_and_plain_resolution_import_no_framework():
    out = json.loads(run_python(SCRIPT))
    assert out["chosen"] == ["json"] * 5
    assert out["heavy"] == []
    assert out["n"] == 11  # chunked_parquet, chunked_npy (streaming steps), pandas_arrow included


def test_a_pipeline_of_plain_python_types_imports_no_framework(project):
    import os

    assert json.loads(run_python(PIPELINE, cwd=str(project), env=dict(os.environ))) == []


def test_availability_reports_a_missing_framework(monkeypatch):
    import importlib.util

    from flowy_materializers import availability

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    info = availability()
    assert info["torch"]["available"] is False and info["torch"]["missing"] == ["torch"]
    assert "pip install 'flowy-materializers[torch]'" in info["torch"]["reason"]
    assert info["torch_module"]["available"] is False
    assert info["numpy"]["available"] is True and info["pickle"]["available"] is True


def test_registrations_carry_what_the_cli_lists():
    from flowy.kernel.plugins import create_plugin_manager
    from flowy_materializers import plugin

    manager = create_plugin_manager(entrypoints=False, plugins=[("flowy-materializers", plugin)])
    regs = {r.name: r for r in manager.registry.all("materializer")}
    assert set(plugin.MATERIALIZERS) <= set(regs)
    for name in plugin.MATERIALIZERS:
        info = regs[name].info
        assert {"types", "extension", "format", "safe", "requires", "materializer_version"} <= set(
            info
        )
        assert regs[name].distribution == "flowy-materializers" or regs[name].plugin
    assert regs["pickle"].info["safe"] is False


@pytest.mark.parametrize("name", ["numpy", "pandas", "sklearn", "pickle"])
def test_registered_version_matches_the_class(name):
    from flowy.kernel.registry import import_target
    from flowy_materializers import plugin

    cls = import_target(plugin.MATERIALIZERS[name]["target"])
    assert cls.version == plugin.VERSIONS[name] and cls.name == name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["torch", "torch_module", "tensorflow", "keras"])
def test_registered_version_matches_the_framework_classes(name):
    test_registered_version_matches_the_class(name)


def test_type_names_are_the_runtime_names_of_installed_frameworks():
    import numpy as np
    import pandas as pd
    from flowy.artifacts.resolution import type_name
    from flowy_materializers import plugin
    from sklearn.linear_model import LogisticRegression

    def claimed(cls: type, name: str) -> bool:
        return any(type_name(k) in plugin.MATERIALIZERS[name]["types"] for k in cls.__mro__)

    assert claimed(np.ndarray, "numpy")
    assert claimed(pd.DataFrame, "pandas") and claimed(pd.Series, "pandas")
    assert claimed(LogisticRegression, "sklearn")
