"""Plugins installed for real: fresh virtual environments, pip, the `flowy` command (slow).

One venv per module holds the local flowy distributions (core, local executor,
SQLite store, CLI) installed from this checkout, plus pytest. The tests then
pip-install a plugin into it, use it through `flowy`, and uninstall it. The
venv is fresh and holds nothing else, so these tests let Flowy autoload
whatever is installed (that is what they test) rather than set
FLOWY_LOAD_PLUGINS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "flowy-example-plugin"
FILLED_STRATEGY = (Path(__file__).parent / "plugin_fixtures" / "mycache_strategy.py").read_text()
LOCAL_DISTS = ["flowy-core", "flowy-executor-local", "flowy-store-sqlite", "flowy-cli"]

PIPELINE = """
from fractions import Fraction

from flowy import Pipeline, step


@step
def ratio(total: int) -> Fraction:
    return Fraction(total, 7)


@step
def doubled(ratio: Fraction) -> Fraction:
    return ratio * 2


pipeline = Pipeline("fractions", [ratio, doubled], context={"total": 3})
"""

CACHED = """
from flowy import Pipeline, step


@step(cache="code_hash,mycache")
def square(n: int) -> int:
    return n * n


pipeline = Pipeline("squares", [square], context={"n": 4})
"""


@attrs.frozen
class Venv:
    root: Path
    home: Path

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWY_", "PYTHON"))}
        env.pop("VIRTUAL_ENV", None)
        return {**env, "FLOWY_HOME": str(self.home), "COLUMNS": "200"}

    def run(self, *argv: str, cwd: Path, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv), cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip
        if code is not None:
            assert done.returncode == code, (
                f"{argv} exited {done.returncode}, expected {code}\n{done.stdout}\n{done.stderr}"
            )
        return done

    def pip(self, *args: str) -> None:
        self.run(
            self.bin("python"), "-m", "pip", "--disable-pip-version-check", *args, cwd=self.root
        )

    def flowy(
        self, project: Path, *args: str, code: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        return self.run(self.bin("flowy"), *args, cwd=project, code=code)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("plugin-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    made = Venv(root, root.parent / "flowy-home")
    made.pip("install", "-q", *(str(ROOT / d) for d in LOCAL_DISTS), "pytest")
    return made


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    return root


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_example_plugin_installed_used_in_a_stack_then_uninstalled(
    venv: Venv, project: Path
) -> None:
    venv.pip("install", "-q", str(EXAMPLE))
    listed = json.loads(venv.flowy(project, "plugins", "--json").stdout)
    plugin = {p["name"]: p for p in listed["plugins"]}["flowy-example-plugin"]
    assert (plugin["status"], plugin["version"]) == ("loaded", "0.1.0")
    assert plugin["provides"] == {"tracker": ["jsonl"], "materializer": ["fraction"]}
    assert set(plugin["requires_core"].split(",")) == {">=0.1", "<0.2"}
    venv.flowy(project, "plugins", "check")

    (project / "pipeline.py").write_text(PIPELINE)
    venv.flowy(
        project, "stack", "register", "tracked",
        "--executor", "local",
        "--metadata-store", "sqlite",
        "--metadata-store-option", "url=sqlite:///{project}/.flowy/tracked.db",
        "--artifact-store", "local",
        "--artifact-store-option", "path={project}/.flowy/tracked-artifacts",
        "--tracker", "jsonl",
        "--tracker-option", "path={project}/events.jsonl",
    )  # fmt: skip
    described = json.loads(venv.flowy(project, "stack", "describe", "tracked", "--json").stdout)
    assert described["components"]["tracker"]["distribution"] == "flowy-example-plugin"
    venv.flowy(project, "stack", "switch", "tracked")
    venv.flowy(project, "run", "pipeline.py")

    events = [json.loads(line) for line in (project / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "flowy_pipeline_started"
    assert (events[-1]["event"], events[-1]["status"]) == ("flowy_pipeline_finished", "completed")
    finished = {e["step"]: e["outputs"] for e in events if e["event"] == "flowy_step_finished"}
    assert finished == {"ratio": {"ratio": "fraction"}, "doubled": {"doubled": "fraction"}}
    shown = venv.flowy(project, "artifacts", "list", "--json").stdout
    assert {a["materializer"] for a in json.loads(shown)} == {"fraction"}

    # The plugin's own tests, against the installed flowy (not this checkout's sources).
    done = venv.run(venv.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr

    venv.pip("uninstall", "-y", "-q", "flowy-example-plugin")
    refused = one_line(venv.flowy(project, "run", "pipeline.py", code=1).stderr)
    assert "Traceback" not in refused
    for fragment in ("Stack 'tracked'", "'jsonl'", "pip install flowy-example-plugin"):
        assert fragment in refused, refused
    # Unrelated stacks and commands keep working.
    assert "tracked" in venv.flowy(project, "stack", "list").stdout
    venv.flowy(
        project, "run", "pipeline.py", "--stack", "local", code=1
    )  # no Fraction materializer
    venv.flowy(project, "stack", "switch", "local")
    refused = one_line(venv.flowy(project, "stack", "switch", "tracked", code=1).stderr)
    assert "pip install flowy-example-plugin" in refused


def test_generated_plugin_installed_fails_honestly_then_passes_when_filled(
    venv: Venv, project: Path
) -> None:
    target = project.parent / "flowy-mycache"
    venv.flowy(project, "plugin", "new", "flowy-mycache", "--kind", "cache", str(target))
    venv.pip("install", "-q", "-e", str(target))
    try:
        listed = json.loads(venv.flowy(project, "plugins", "--json").stdout)
        plugin = {p["name"]: p for p in listed["plugins"]}["flowy-mycache"]
        assert plugin["status"] == "loaded" and plugin["provides"] == {"cache": ["mycache"]}

        pytest_cmd = (venv.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
        failing = venv.run(*pytest_cmd, cwd=target, code=1)
        assert "NotImplementedError" in failing.stdout and "key_part" in failing.stdout

        (target / "src" / "flowy_mycache" / "strategy.py").write_text(FILLED_STRATEGY)
        passing = venv.run(*pytest_cmd, cwd=target, code=None)
        assert passing.returncode == 0, passing.stdout + passing.stderr

        (project / "pipeline.py").write_text(textwrap.dedent(CACHED))
        assert "done" in venv.flowy(project, "run", "pipeline.py").stdout
        assert "cached" in venv.flowy(project, "run", "pipeline.py").stdout
        assert "done" in venv.flowy(project, "run", "pipeline.py", "-p", "n=5").stdout
    finally:
        venv.pip("uninstall", "-y", "-q", "flowy-mycache")
