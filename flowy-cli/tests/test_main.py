"""The CLI's own machinery: lazy imports, plugin command discovery, argument parsing, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from flowy_cli.common import parse_assignments, parse_value
from flowy_cli.main import BUILTIN_COMMANDS, cli, import_target

#: What `flowy --help` must never import (ARCHITECTURE.md: --help stays fast).
HEAVY = ("rich", "pydantic", "sqlalchemy", "networkx", "numpy", "pandas", "flowy.run.engine")
FIRST_PARTY = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), FLOWY_LOAD_PLUGINS=FIRST_PARTY, **extra)
    return env


def _imported_by_help(home: Path, **extra: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flowy_cli.main", "--help"],
        capture_output=True,
        text=True,
        env=_env(home, **extra),
        check=True,
    )
    assert "Commands:" in done.stdout
    return {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_nothing_heavy_cold_or_warm(tmp_path: Path) -> None:
    cold = _imported_by_help(tmp_path)  # builds the plugin command cache
    assert _heavy(cold) == []
    assert (tmp_path / "cache" / "cli-commands.json").is_file()
    warm = _imported_by_help(tmp_path)
    assert _heavy(warm) == []
    # With a current cache not even the plugin manager is built.
    assert "flowy.kernel.plugins" not in warm
    for name in BUILTIN_COMMANDS:
        assert not any(m == f"flowy_cli.{name}" for m in warm)


def test_plugin_command_cache_follows_plugin_selection(tmp_path: Path) -> None:
    _imported_by_help(tmp_path)
    cache = tmp_path / "cache" / "cli-commands.json"
    before = json.loads(cache.read_text())["fingerprint"]
    _imported_by_help(tmp_path, FLOWY_DISABLE_PLUGINS="flowy-materializers")
    assert json.loads(cache.read_text())["fingerprint"] != before


def test_every_builtin_command_imports_and_has_help() -> None:
    for name, (target, summary) in BUILTIN_COMMANDS.items():
        command = import_target(target)
        assert isinstance(command, click.Command), name
        assert command.help and summary


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flowy_cli.main", "nosuch"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=False,
    )
    assert done.returncode == 2
    assert "Error:" in done.stderr and "No such command" in done.stderr
    assert "Traceback" not in done.stderr


def test_parse_value_and_assignments() -> None:
    assert parse_value("3") == 3
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("hello") == "hello"
    assert parse_value("") == ""
    assert parse_assignments(["a=1", "b=x=y", "c="], "--param") == {"a": 1, "b": "x=y", "c": ""}
    with pytest.raises(click.BadParameter):
        parse_assignments(["novalue"], "--param")
    with pytest.raises(click.BadParameter):
        parse_assignments(["=3"], "--param")


def test_group_lists_builtins_in_order() -> None:
    ctx = click.Context(cli)
    assert set(BUILTIN_COMMANDS) <= set(cli.list_commands(ctx))


def test_run_in_process_plain_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main()` in this process: plain progress lines (stdout is not a TTY), exit codes."""
    from flowy_cli import common
    from flowy_cli.main import main

    project = tmp_path / "p"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(
        textwrap.dedent(
            """
            from flowy import Pipeline, step

            @step
            def one(k: int = 2) -> int:
                return k

            @step
            def two(one: int) -> int:
                return one * 10

            p = Pipeline("inproc", steps=[one, two])
            """
        )
    )
    monkeypatch.chdir(project)
    for key in [k for k in os.environ if k.startswith("FLOWY_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_LOAD_PLUGINS", FIRST_PARTY)
    common.plugin_manager.cache_clear()
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "pipe.py", "--param", "k=5"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "one: running" in out and "two: done" in out
    assert "\x1b[" not in out  # no terminal control codes in logs
    assert "(2 completed)" in out
    common.plugin_manager.cache_clear()
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "pipe.py", "--param", "nope=1"])
    assert exit_info.value.code == 1
    assert "Unknown parameter" in capsys.readouterr().err
    common.plugin_manager.cache_clear()


def test_a_piped_run_prints_plain_text_without_importing_rich(tmp_path: Path) -> None:
    """Logs and pipes get the same words as a terminal, and `flowy run` skips rich for them."""
    project = tmp_path / "p"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipe.py").write_text(
        textwrap.dedent(
            """
            from flowy import Pipeline, step

            @step
            def one() -> int:
                return 1

            @step
            def two(one: int) -> int:
                raise ValueError("two [bold]broke[/]")

            p = Pipeline("piped", steps=[one, two])
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flowy_cli.main", "run", "pipe.py"],
        cwd=project,
        capture_output=True,
        text=True,
        env=_env(tmp_path / "home"),
        check=False,
    )
    assert done.returncode == 1
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not any(m == "rich" or m.startswith("rich.") for m in imported)
    lines = done.stdout.splitlines()
    assert "one: done" in "\n".join(lines) and "two: failed" in "\n".join(lines)
    (summary,) = [line for line in lines if line.startswith("Run ")]
    run_id = summary.split()[1]
    assert summary.startswith(f"Run {run_id} failed in ")
    assert summary.endswith(" (1 completed, 1 failed)")
    assert "  two: ValueError: two [bold]broke[/]" in lines  # markup-like text stays as written
    assert f"    see its output: flowy logs {run_id} --step two" in lines
    assert "\x1b[" not in done.stdout


def test_the_version_matches_the_installed_distribution() -> None:
    from importlib import metadata

    import flowy_cli

    assert flowy_cli.__version__ == metadata.version("flowy-cli")
