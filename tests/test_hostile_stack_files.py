"""Hostile stack files break only the commands that use them, through the real `flowy` command.

Each case drops one bad file named ``bad.toml`` into the project's
``.flowy/stacks/`` or the user's ``FLOWY_HOME/stacks/``: brackets nested far
past the recursion limit, a 5,000-digit integer, a 50 MB file, invalid UTF-8,
a symlink to ``/dev/zero`` and a FIFO (the last two hang a plain ``open()``
and ``read()``). Then ``runs list``, ``run`` on the local stack and ``stack
list`` must still work, `stack list` must show ``bad`` as broken with the
reason, and ``stack describe bad`` / ``run --stack bad`` must fail with a
message naming the file. Every subprocess has a timeout, so a hang fails the
test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
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

VALID_STACK = (
    '[executor]\ntype = "local"\n'
    '[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/bad.db"\n'
    '[artifact_store]\ntype = "local"\npath = "{project}/.flowy/bad"\n'
)


def _deep(path: Path) -> str:
    path.write_text("x = " + "[" * 200_000 + "]" * 200_000 + "\n")
    return "nests arrays or tables too deeply"


def _huge_int(path: Path) -> str:
    path.write_text(VALID_STACK + "[tracker]\ntype = 'x'\nn = " + "7" * 5000 + "\n")
    return "cannot be read"


def _fifty_mb(path: Path) -> str:
    """A valid stack padded with comments: it would parse, slowly, without a size limit."""
    line = "# " + "x" * 1021 + "\n"
    with path.open("w") as fh:
        fh.write(VALID_STACK)
        for _ in range(50 * 1024):
            fh.write(line)
    return "bytes, more than the 1,048,576"


def _invalid_utf8(path: Path) -> str:
    path.write_bytes(b'description = "caf\xe9 \xff\xfe"\n' + VALID_STACK.encode())
    return "not valid UTF-8"


def _dev_zero(path: Path) -> str:
    path.symlink_to("/dev/zero")
    return "not a regular file"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "not a regular file"


HOSTILE: dict[str, Callable[[Path], str]] = {
    "deep-nesting": _deep,
    "5000-digit-int": _huge_int,
    "50-MB": _fifty_mb,
    "invalid-utf8": _invalid_utf8,
    "symlink-dev-zero": _dev_zero,
    "fifo": _fifo,
}

Flowy = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flowy(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> Flowy:
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    flowy = flowy_runner(project, flowy_env(tmp_path / "home", COLUMNS="250"))

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = flowy(*args, code=code)
        assert "Traceback" not in done.stderr and "Unexpected" not in done.stderr, done.stderr
        return done

    return run


@pytest.mark.parametrize("scope", ["project", "home"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_stack_file_breaks_only_the_commands_that_use_it(
    flowy: Flowy, tmp_path: Path, kind: str, scope: str
) -> None:
    folder = tmp_path / ("project/.flowy" if scope == "project" else "home") / "stacks"
    folder.mkdir(parents=True)
    bad = folder / "bad.toml"
    reason = HOSTILE[kind](bad)

    # Commands that do not use the stack do not read the file.
    assert "Run " in flowy("run", "pipeline.py").stdout
    assert "tiny" in flowy("runs", "list").stdout

    # `stack list` reads every file: the bad one is shown broken, with the reason.
    listed = {s["name"]: s for s in json.loads(flowy("stack", "list", "--json").stdout)}
    assert listed["local"]["error"] is None
    assert str(bad) in listed["bad"]["error"] and reason in listed["bad"]["error"]
    human = " ".join(flowy("stack", "list").stdout.split())
    assert "invalid" in human and "bad" in human

    # Commands that use it fail with a message naming the file.
    for args in (("stack", "describe", "bad"), ("run", "pipeline.py", "--stack", "bad")):
        text = " ".join(flowy(*args, code=1).stderr.split())
        assert str(bad) in text and reason in text, text
    assert "No stack named 'ghost'" in flowy("stack", "describe", "ghost", code=1).stderr
    # Its name is taken, which register finds out without reading it.
    user = ["--user"] if scope == "home" else []
    taken = flowy("stack", "register", "bad", *user, "--executor", "local", code=1)
    assert "already exists" in taken.stderr


def test_a_hostile_config_file_is_named_not_a_crash(flowy: Flowy, tmp_path: Path) -> None:
    """config.toml goes through the same reader: every command names it, none hangs."""
    config = tmp_path / "project" / ".flowy" / "config.toml"
    os.mkfifo(config)
    text = " ".join(flowy("runs", "list", code=1).stderr.split())
    assert str(config) in text and "not a regular file" in text
    config.unlink()
    config.write_text("progress = " + "[" * 100_000 + "\n")
    text = " ".join(flowy("stack", "list", code=1).stderr.split())
    assert str(config) in text and "too deeply" in text
