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


# -- issue #12 items 17 and 18: a complete generated registration; the two new checks --

#: A real implementation of the materializer skeleton `flowy plugin new flowy-thing` writes.
FILLED_MATERIALIZER = """
from __future__ import annotations

from decimal import Decimal

from flowy.kernel.contracts import Materializer


class ThingMaterializer(Materializer):
    name = "thing"
    version = "1"
    extension = "{extension}"

    def save(self, obj, file):
        file.write(str(obj).encode())
        return {{"digits": len(obj.as_tuple().digits)}}

    def load(self, file, metadata):
        return Decimal(file.read().decode())
"""

#: A real implementation of the tracker skeleton; ``{cached}`` is its flowy_step_cached.
FILLED_TRACKER = """
from __future__ import annotations

from flowy import hookimpl


class ThingTracker:
    def __init__(self):
        self.seen = []

    @hookimpl
    def flowy_pipeline_started(self, run):
        self.seen.append(("flowy_pipeline_started", None))

    @hookimpl
    def flowy_step_finished(self, run, task, result):
        self.seen.append(("flowy_step_finished", task.step))

    @hookimpl
    def flowy_step_failed(self, run, task, result):
        self.seen.append(("flowy_step_failed", task.step))

    @hookimpl
    def flowy_step_skipped(self, run, step, reason):
        self.seen.append(("flowy_step_skipped", step))
{cached}
    @hookimpl
    def flowy_pipeline_finished(self, run, status):
        self.seen.append(("flowy_pipeline_finished", None))
"""

CACHED_HOOK = """
    @hookimpl
    def flowy_step_cached(self, run, task, entry):
        self.seen.append(("flowy_step_cached", task.step))
"""


def _generated(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / f"flowy-thing-{kind}"
    flowy(tmp_path, "plugin", "new", "flowy-thing", "--kind", kind, str(target))
    return target


def _fill_tracker(target: Path, cached: str) -> None:
    (target / "src" / "flowy_thing" / "tracker.py").write_text(FILLED_TRACKER.format(cached=cached))
    test = target / "tests" / "test_contract.py"
    test.write_text(
        test.read_text().replace(
            '        raise NotImplementedError(\n            "read back what the tracker recorded, '
            'in order, as (hook name, step name or None)"\n        )',
            "        return tracker.seen",
        )
    )


def _verbose(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path, PYTHONPATH=str(folder / "src"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_generated_materializer_registration_is_complete_and_names_no_placeholder_url(
    tmp_path: Path,
) -> None:
    target = _generated(tmp_path, "materializer")
    plugin = (target / "src" / "flowy_thing" / "plugin.py").read_text()
    for keyword in ("types=", "extension=", "safe=True", "requires=", "description="):
        assert keyword in plugin, keyword
    readme = (target / "README.md").read_text()
    assert "https://github.com/flowy)" not in readme and "flowy-core" in readme
    pyproject = (target / "pyproject.toml").read_text()
    assert "Add here every library the implementation imports" in pyproject


def test_generated_materializer_passes_its_suite_with_the_extension_check(tmp_path: Path) -> None:
    target = _generated(tmp_path, "materializer")
    impl = target / "src" / "flowy_thing" / "materializer.py"
    impl.write_text(FILLED_MATERIALIZER.format(extension=".txt"))
    done = _verbose(target, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_extension_matches_the_registration PASSED" in done.stdout


def test_a_materializer_whose_extension_differs_from_its_registration_fails_the_suite(
    tmp_path: Path,
) -> None:
    target = _generated(tmp_path, "materializer")
    impl = target / "src" / "flowy_thing" / "materializer.py"
    impl.write_text(FILLED_MATERIALIZER.format(extension=".dec"))  # registered as ".txt"
    done = _verbose(target, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "test_extension_matches_the_registration" in failed[0], failed
    assert "declares extension '.dec' but is registered with extension='.txt'" in done.stdout


def test_generated_tracker_passes_its_suite_with_the_cached_step_check(tmp_path: Path) -> None:
    target = _generated(tmp_path, "tracker")
    assert "def flowy_step_cached" in (target / "src" / "flowy_thing" / "tracker.py").read_text()
    _fill_tracker(target, CACHED_HOOK)
    done = _verbose(target, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_a_tracker_of_step_outcomes_also_records_cached_steps PASSED" in done.stdout


def test_a_tracker_that_ignores_cached_steps_fails_the_suite(tmp_path: Path) -> None:
    target = _generated(tmp_path, "tracker")
    _fill_tracker(target, "")
    done = _verbose(target, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1, failed
    assert "test_a_tracker_of_step_outcomes_also_records_cached_steps" in failed[0]
    assert "but not flowy_step_cached" in done.stdout


def test_example_plugin_passes_the_new_checks(tmp_path: Path) -> None:
    done = _verbose(EXAMPLE, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_extension_matches_the_registration PASSED" in done.stdout
    assert "test_a_tracker_of_step_outcomes_also_records_cached_steps PASSED" in done.stdout
