"""The plugin author's kit, through real subprocesses: `flowy plugin new` and the example plugin.

Generated packages and the example plugin are tested the way their authors
would test them before installing (``pytest`` in their folder, the package on
``PYTHONPATH``); tests/test_plugin_kit_venv.py (slow) installs them into fresh
virtual environments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "flowy-example-plugin"
FLOWY_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(FLOWY_SCRIPT)] if FLOWY_SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
KINDS = ["executor", "artifact-store", "metadata-store", "materializer", "cache", "tracker"]

#: A real implementation of the cache skeleton `flowy plugin new flowy-mycache` writes.
FILLED_STRATEGY = (Path(__file__).parent / "plugin_fixtures" / "mycache_strategy.py").read_text()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(tmp_path / "home"), FLOWY_LOAD_PLUGINS="", COLUMNS="200")
    env.update(extra)
    return env


def flowy(tmp_path: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*FLOWY, *args], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def pytest_in(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a package's own tests as its author would: in its folder, src on the path."""
    env = _env(tmp_path, PYTHONPATH=str(folder / "src"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_generated_plugin_is_complete_and_its_contract_tests_fail_honestly(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "pkg"
    out = flowy(tmp_path, "plugin", "new", "flowy-thing", "--kind", kind, str(target)).stdout
    assert "Created plugin flowy-thing" in out and "pip install -e '.[test]'" in out
    meta = tomllib.loads((target / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"]["flowy"] == {"flowy-thing": "flowy_thing.plugin"}
    assert "flowy-core>=0.1,<0.2" in meta["project"]["dependencies"]
    assert "py{311,312,313}-core{min,latest}" in (target / "tox.ini").read_text()
    assert "## Publish it" in (target / "README.md").read_text()
    assert (target / "src" / "flowy_thing" / "plugin.py").is_file()

    done = pytest_in(target, tmp_path)
    # Exit 1: tests ran and failed (2 would be a collection error, 5 no tests at all).
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NotImplementedError" in done.stdout
    assert "error" not in done.stdout.splitlines()[-1], done.stdout


def test_generated_cache_plugin_passes_its_contract_once_filled_in(tmp_path: Path) -> None:
    target = tmp_path / "flowy-mycache"
    flowy(tmp_path, "plugin", "new", "flowy-mycache", "--kind", "cache", str(target))
    (target / "src" / "flowy_mycache" / "strategy.py").write_text(FILLED_STRATEGY)
    done = pytest_in(target, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout and "failed" not in done.stdout


def test_plugin_new_refuses_bad_names_kinds_and_used_folders(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("mine")
    for args, fragment in [
        (("Flowy_Bad",), "Invalid plugin name 'Flowy_Bad'"),
        (("flowy-ok", "taken"), "already exists and is not empty"),
    ]:
        done = flowy(tmp_path, "plugin", "new", args[0], "--kind", "cache", *args[1:], code=1)
        assert fragment in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    done = flowy(tmp_path, "plugin", "new", "flowy-ok", "--kind", "gpu", code=2)
    assert "'gpu' is not one of" in done.stderr
    assert (tmp_path / "taken" / "file.txt").read_text() == "mine"


def test_example_plugin_passes_its_own_tests(tmp_path: Path) -> None:
    done = pytest_in(EXAMPLE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout and "passed" in done.stdout
