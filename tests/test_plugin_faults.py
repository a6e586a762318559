"""A plugin's faults name the plugin and the fix, through the real `flowy` command.

The plugin is tests/plugin_fixtures/faulty_plugin, 'installed' on PYTHONPATH
through a bare ``*.dist-info``. Its materializers write objects of a stand-in
framework that is on PYTHONPATH while the pipeline runs and gone when
`flowy artifacts show` loads them (as when polars or torch is uninstalled);
its components reject options by raising ValueError or a pydantic
ValidationError from ``__init__``. None of that may read "Unexpected ...
This is probably a bug in Flowy".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
PLUGINS = "flowy-executor-local,flowy-store-sqlite,flowy-materializers,flowy-faulty-plugin"
FIXTURE = Path(__file__).parent / "plugin_fixtures" / "faulty_plugin"

PIPELINE = """
from flowy import Pipeline, step
from flowy_fixture_framework import Frame, Grid


@step
def frame() -> Frame:
    return Frame([1, 2, 3])


@step
def grid() -> Grid:
    return Grid([[1, 0], [0, 1]])


pipeline = Pipeline("frames", [frame, grid])
"""

TINY = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

STORES = (
    '[executor]\ntype = "local"\n[artifact_store]\ntype = "local"\npath = "{project}/.flowy/s"\n'
)
LOCAL_DB = '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/s.db"\n'

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flowy(tmp_path: Path) -> Flowy:
    project = tmp_path / "project"
    (project / ".flowy" / "stacks").mkdir(parents=True)
    (project / "frames.py").write_text(PIPELINE)
    (project / "tiny.py").write_text(TINY)
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(FIXTURE / "flowy_faulty_plugin.py", site)
    info = site / "flowy_faulty_plugin-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: flowy-faulty-plugin\nVersion: 0.3\n"
    )
    (info / "entry_points.txt").write_text("[flowy]\nflowy-faulty-plugin = flowy_faulty_plugin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_LOAD_PLUGINS=PLUGINS, COLUMNS="250")

    def run(*args: str, code: int = 0, framework: bool = False) -> subprocess.CompletedProcess[str]:
        paths = [str(site), *([str(FIXTURE / "framework")] if framework else [])]
        path = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])
        done = subprocess.run(
            [*FLOWY, *args], cwd=project, env={**env, "PYTHONPATH": path}, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    return run


def error_text(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    text = " ".join(done.stderr.split())
    assert "Unexpected" not in text and "bug in Flowy" not in text, text
    return text


def test_a_missing_framework_names_the_materializer_plugin_and_install(flowy: Flowy) -> None:
    flowy("run", "frames.py", framework=True)
    rows = json.loads(flowy("artifacts", "list", "--json", framework=True).stdout)
    ids = {row["name"]: row["artifact_id"] for row in rows}
    assert "Frame([1, 2, 3])" in flowy("artifacts", "show", ids["frame"], framework=True).stdout

    # The framework is uninstalled: the metadata still shows, loading names what to install.
    flowy("artifacts", "show", ids["frame"], "--no-value")
    text = error_text(flowy("artifacts", "show", ids["frame"], code=1))
    assert "materializer 'frame' from flowy-faulty-plugin 0.3" in text
    assert "needs the module 'flowy_fixture_framework'" in text
    assert "pip install 'flowy-faulty-plugin[frames]'" in text

    # A materializer that declares no `requires` fails inside load(): named all the same.
    text = error_text(flowy("artifacts", "show", ids["grid"], code=1))
    assert "materializer 'grid' from flowy-faulty-plugin 0.3" in text
    assert "needs the module 'flowy_fixture_framework'" in text
    assert "pip install 'flowy_fixture_framework'" in text


@pytest.mark.parametrize(
    ("tracker", "fragment"),
    [
        ('type = "strict"\nlevel = "loud"\n', "ValueError: level must be 'debug' or 'info'"),
        ('type = "validated"\nevery = -3\n', "ValidationError"),
    ],
)
def test_a_component_rejecting_its_options_names_the_plugin_and_the_fix(
    flowy: Flowy, tmp_path: Path, tracker: str, fragment: str
) -> None:
    stack = tmp_path / "project" / ".flowy" / "stacks" / "bad.toml"
    stack.write_text(STORES + LOCAL_DB + "[tracker]\n" + tracker)
    text = error_text(flowy("run", "tiny.py", "--stack", "bad", code=1))
    assert "Stack 'bad'" in text and str(stack) in text and "tracker" in text
    assert "(from flowy-faulty-plugin 0.3) rejected its options" in text and fragment in text
    assert "flowy stack update STACK --tracker-option KEY=VALUE" in text
    flowy("run", "tiny.py")  # other stacks are unaffected


def test_a_store_rejecting_its_options_is_named_by_every_reader(
    flowy: Flowy, tmp_path: Path
) -> None:
    stack = tmp_path / "project" / ".flowy" / "stacks" / "picky.toml"
    stack.write_text(STORES + '[metadata_store]\ntype = "picky"\nmode = "append"\n')
    for args in (("runs", "list", "--stack", "picky"), ("run", "tiny.py", "--stack", "picky")):
        text = error_text(flowy(*args, code=1))
        assert "metadata_store 'picky' (from flowy-faulty-plugin 0.3) rejected its options" in text
        assert "mode 'append' is not supported" in text
