"""Names recorded for a pipeline file's module can be imported again (issue #12 item 3).

A pipeline file is imported under an internal name (flowy.kernel.user_modules.module_name_for);
what Flowy records and shows is the project-relative module path or the file.
The PyTorch round trip through the real CLI is flowy-materializers/tests/test_torch_reload.py.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest
from flowy.kernel.user_modules import importable_name, module_name_for, shown_name
from flowy.run.loader import import_recorded, load_module

SOURCE = """
import logging

class Thing:
    pass

log = logging.getLogger(__name__)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / ".flowy").mkdir(parents=True)
    (root / "pipelines").mkdir()
    (root / "pipelines" / "train.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.delenv("FLOWY_PROJECT", raising=False)
    monkeypatch.chdir(root)
    return root


def test_a_pipeline_files_module_is_recorded_by_its_project_path(project: Path) -> None:
    module = load_module(project / "pipelines" / "train.py")
    assert module.__name__.startswith("flowy_user_")
    assert importable_name(module.__name__) == "pipelines.train"
    assert shown_name(module.__name__) == str(Path("pipelines") / "train.py")
    assert shown_name(f"{module.__name__}.sub") == str(Path("pipelines") / "train.py") + ".sub"
    assert importable_name("logging.handlers") == "logging.handlers"
    assert import_recorded("pipelines.train") is module  # same process: the same module
    assert import_recorded("logging") is logging


def test_a_recorded_name_imports_in_a_process_that_never_loaded_the_file(project: Path) -> None:
    file = project / "pipelines" / "train.py"
    internal = module_name_for(file)
    sys.modules.pop(internal, None)
    module = import_recorded("pipelines.train")
    assert module.__flowy_path__ == str(file.resolve())
    assert module.Thing.__module__ == internal
    sys.modules.pop(internal, None)
    # A name recorded by an earlier version (the internal one) finds its file too.
    assert import_recorded(internal).__flowy_path__ == str(file.resolve())
    sys.modules.pop(internal, None)


def test_an_unstorable_type_from_a_pipeline_file_is_named_by_the_file(tmp_path: Path) -> None:
    import os
    import subprocess

    project = tmp_path / "proj"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(
        textwrap.dedent("""
        from flowy import Pipeline, step

        class Thing:
            pass

        @step
        def make() -> Thing:
            return Thing()

        pipeline = Pipeline("things", [make])
        """)
    )
    flowy = Path(sys.executable).with_name("flowy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), COLUMNS="200")
    env["FLOWY_LOAD_PLUGINS"] = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"
    done = subprocess.run(
        [str(flowy), "run", "pipeline.py"], cwd=project, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Cannot store an output of type pipeline.py:Thing" in " ".join(done.stdout.split())
    assert "flowy_user_" not in done.stdout + done.stderr
