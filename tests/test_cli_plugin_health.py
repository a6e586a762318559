"""Broken, raising, clashing and incompatible plugins, through the real `flowy` command.

Each plugin is a throwaway distribution (a module plus a ``*.dist-info``
folder) on PYTHONPATH; FLOWY_LOAD_PLUGINS names exactly the first-party
plugins and the ones a test adds. For every kind of failure the test checks
that it is reported clearly (`flowy plugins`, `flowy plugins check`, and the
error of a stack that needs the plugin) and that unrelated commands and
stacks keep working.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

PIPELINE = """
from flowy import Pipeline, step


@step
def answer() -> int:
    return 42


pipeline = Pipeline("tiny", [answer])
"""

RAISING = """
from flowy import hookimpl


@hookimpl
def flowy_register_executors(register):
    raise RuntimeError("bad config in plugin")
"""

GOOD_EXECUTOR = """
from flowy import hookimpl


@hookimpl
def flowy_register_executors(register):
    register("warp", "flowy_executor_local.executor:LocalExecutor")
"""

Flowy = Callable[..., subprocess.CompletedProcess[str]]


def install(site: Path, dist: str, module: str, source: str, requires: str = "") -> None:
    """A distribution 'installed' on a PYTHONPATH folder through a bare *.dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    requires_line = f"Requires-Dist: {requires}\n" if requires else ""
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n{requires_line}"
    )
    (info / "entry_points.txt").write_text(f"[flowy]\n{dist} = {module}\n")


@pytest.fixture
def cli(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Callable[[list[str]], Flowy]:
    """``cli([extra dists])`` -> a runner in a fresh project with those plugins loaded."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)

    def make(extra: list[str]) -> Flowy:
        env = flowy_env(tmp_path / "home", extra, PYTHONPATH=str(tmp_path / "site"), COLUMNS="200")
        return flowy_runner(project, env)

    return make


def plugin_row(flowy: Flowy, name: str) -> dict[str, object]:
    rows = json.loads(flowy("plugins", "--json").stdout)["plugins"]
    return next(r for r in rows if r["name"] == name)


def error_text(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    return " ".join(done.stderr.split())


def still_works(flowy: Flowy) -> None:
    """Unrelated commands and the local stack are unaffected."""
    assert "Run " in flowy("run", "pipeline.py").stdout
    assert "local" in flowy("stack", "list").stdout
    flowy("--help")


def test_plugin_raising_in_a_registration_hook(cli: Callable[[list[str]], Flowy], tmp_path: Path):
    install(tmp_path / "site", "flowy-raises", "flowy_raises_plugin", RAISING)
    flowy = cli(["flowy-raises"])
    row = plugin_row(flowy, "flowy-raises")
    assert row["status"] == "failed"
    assert row["error"] == "flowy_register_executors raised RuntimeError: bad config in plugin"
    human = flowy("plugins").stdout
    assert "flowy-raises" in human and "failed" in human and "config in plugin" in human
    check = flowy("plugins", "check", code=1).stdout
    assert "flowy-raises (flowy-raises 0.3)" in check and "bad config in plugin" in check
    stack = tmp_path / "project" / ".flowy" / "stacks" / "needs.toml"
    stack.parent.mkdir(parents=True)
    stack.write_text(
        '[executor]\ntype = "raised"\nprovided_by = "flowy-raises"\n'
        '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/n.db"\n'
        '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/n"\n'
    )
    text = error_text(flowy("run", "pipeline.py", "--stack", "needs", code=1))
    assert "Stack 'needs'" in text and "No executor named 'raised'" in text
    assert "flowy-raises, which is installed but failed" in text and "bad config" in text
    still_works(flowy)


def test_plugin_failing_at_import_is_named_by_the_stack_that_needs_it(
    cli: Callable[[list[str]], Flowy], tmp_path: Path
):
    install(tmp_path / "site", "flowy-broken", "flowy_broken_plugin", "import no_such_lib\n")
    flowy = cli(["flowy-broken"])
    row = plugin_row(flowy, "flowy-broken")
    assert row["status"] == "failed" and "No module named 'no_such_lib'" in str(row["error"])
    flowy("plugins", "check", code=1)
    refused = flowy(
        "stack", "register", "needs", "--executor", "broken", "--metadata-store", "sqlite",
        "--metadata-store-option", "url=sqlite:///x.db", "--artifact-store", "local",
        "--artifact-store-option", "path=x", code=1,
    )  # fmt: skip
    text = error_text(refused)
    assert "No executor named 'broken'" in text
    assert "Plugins that did not load (one may provide it): flowy-broken" in text
    assert "no_such_lib" in text
    assert not (tmp_path / "project" / ".flowy" / "stacks" / "needs.toml").exists()
    still_works(flowy)


def test_incompatible_plugin_is_reported_not_loaded_and_check_fails(
    cli: Callable[[list[str]], Flowy], tmp_path: Path
):
    install(
        tmp_path / "site", "flowy-future", "flowy_future_plugin", GOOD_EXECUTOR,
        requires="flowy-core>=9.0",
    )  # fmt: skip
    flowy = cli(["flowy-future"])
    row = plugin_row(flowy, "flowy-future")
    assert row["status"] == "incompatible" and row["requires_core"] == ">=9.0"
    assert "supports flowy-core >=9.0 but flowy-core 0.1.0 is installed" in str(row["error"])
    check = flowy("plugins", "check", code=1).stdout
    assert "flowy-future" in check and "supports flowy-core >=9.0" in " ".join(check.split())
    ok = json.loads(flowy("plugins", "check", "--json", code=1).stdout)
    assert ok["ok"] is False and len(ok["problems"]) == 1
    still_works(flowy)


def test_name_clash_is_reported_and_a_qualified_name_chooses(
    cli: Callable[[list[str]], Flowy], tmp_path: Path
):
    install(tmp_path / "site", "flowy-warp-a", "flowy_warp_a", GOOD_EXECUTOR)
    install(tmp_path / "site", "flowy-warp-b", "flowy_warp_b", GOOD_EXECUTOR)
    flowy = cli(["flowy-warp-a", "flowy-warp-b"])
    clashes = json.loads(flowy("plugins", "--json").stdout)["clashes"]
    assert clashes == [
        {
            "kind": "executor",
            "name": "warp",
            "distributions": ["flowy-warp-a", "flowy-warp-b"],
            "qualified_names": ["flowy-warp-a:warp", "flowy-warp-b:warp"],
        }
    ]
    assert (
        "registered by both flowy-warp-a and flowy-warp-b"
        in flowy("plugins", "check", code=1).stdout
    )
    base = ["--metadata-store", "sqlite", "--metadata-store-option",
            "url=sqlite:///{project}/.flowy/w.db", "--artifact-store", "local",
            "--artifact-store-option", "path={project}/.flowy/w"]  # fmt: skip
    text = error_text(flowy("stack", "register", "w", "--executor", "warp", *base, code=1))
    assert (
        "registered by both flowy-warp-a and flowy-warp-b" in text and "flowy-warp-b:warp" in text
    )
    flowy("stack", "register", "w", "--executor", "flowy-warp-b:warp", *base)
    described = json.loads(flowy("stack", "describe", "w", "--json").stdout)
    assert described["components"]["executor"]["distribution"] == "flowy-warp-b"
    assert "answer" in flowy("run", "pipeline.py", "--stack", "w").stdout
    still_works(flowy)


def test_load_plugins_empty_loads_none_so_a_broken_plugin_never_blocks(
    cli: Callable[[list[str]], Flowy], tmp_path: Path
):
    install(tmp_path / "site", "flowy-broken", "flowy_broken_plugin", "raise SystemError('x')\n")
    flowy = cli(["flowy-broken"])
    flowy("plugins", "check", code=1)
    none = cli([])
    rows = json.loads(none("plugins", "--json").stdout)["plugins"]
    assert {r["name"]: r["status"] for r in rows}["flowy-broken"] == "disabled"
