"""Run the worked examples of a docs page (docs/dynamic.md, docs/operations.md).

The pages' format (stated at the top of each): a ```python block (or a ```text
block, for a file that is not Python) starting ``# file: NAME`` is a file of the
example project; a ```console block holds
``$ flowy ...`` commands, each followed by lines its output must contain (``...``
lines are skipped). Each ``##`` section is its own project, so the examples
cannot lean on each other.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"```(python|text|console)\n(.*?)```", re.S)


def sections(doc: Path) -> list[tuple[str, str]]:
    """(title, text) of each ``##`` section of ``doc`` that has an example."""
    parts = re.split(r"^## ", doc.read_text(), flags=re.M)[1:]
    found = []
    for part in parts:
        title, _, body = part.partition("\n")
        if FENCE.search(body):
            found.append((title.strip(), body))
    return found


def steps_of(body: str) -> list[tuple[str, Any]]:
    """The section's files and commands in page order: ("file", (name, text)) and
    ("run", (argv, expected lines))."""
    out: list[tuple[str, Any]] = []
    for kind, text in FENCE.findall(body):
        if kind in ("python", "text"):
            first, _, rest = text.partition("\n")
            match = re.fullmatch(r"# file: ([\w./-]+)", first.strip())
            if match:
                out.append(("file", (match.group(1), rest)))
            continue
        command: list[str] | None = None
        expected: list[str] = []
        for line in text.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    out.append(("run", (command, expected)))
                command, expected = shlex.split(line[2:]), []
            elif line.strip() and line.strip() != "...":
                expected.append(line.strip())
        if command is not None:
            out.append(("run", (command, expected)))
    return out


def run_section(
    title: str,
    body: str,
    tmp_path: Path,
    flowy_env: Callable[..., dict[str, str]],
    flowy_runner: Callable[..., Any],
    **extra_env: str,
) -> Path:
    """Write the section's files to a fresh project, run its commands, check their output.

    Returns the project directory (a caller may check more, e.g. what a server received).
    ``extra_env`` is added to every command's environment (the address of a server the
    test started, for example).
    """
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project), **extra_env)
    flowy = flowy_runner(project, env, timeout=300)
    ran = 0
    for kind, item in steps_of(body):
        if kind == "file":
            name, text = item
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_text(text)
            continue
        argv, expected = item
        assert argv[0] == "flowy", f"{title}: only flowy commands run here, got {argv}"
        done = flowy(*argv[1:])
        ran += 1
        shown = done.stdout + done.stderr
        missing = [line for line in expected if line not in shown]
        assert not missing, f"{title}: `{' '.join(argv)}` did not print {missing}:\n{shown}"
    assert ran, f"section {title!r} has files but runs no command"
    return project
