"""The example of docs/executors.md's Ray section is true: its file, run as shown, prints
what the page shows (run ids, durations and the machine's memory aside)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "executors.md"
FLOWY = Path(sys.executable).with_name("flowy")

pytestmark = pytest.mark.slow


def _ray_section() -> str:
    text = DOC.read_text()
    return text[text.index("\n## Ray\n") :]


def _pattern(line: str) -> re.Pattern[str]:
    """A shown output line as a regex: ids, durations and sizes match any value."""
    parts = re.split(r"([0-9a-f]{32}|[0-9a-f]{12}|\d+(?:\.\d+)? (?:ms|s|GB))", line)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        elif re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{12}", part):
            regex += rf"[0-9a-f]{{{len(part)}}}"
        else:
            regex += r"\d+(?:\.\d+)? " + re.escape(part.split()[-1])
    return re.compile(regex)


def test_the_ray_sections_example_runs_as_shown(project: Path) -> None:
    section = _ray_section()
    (source,) = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "train.py" in b]
    (project / "train.py").write_text(source)
    sessions = [
        b for b in re.findall(r"```console\n(.*?)```", section, re.S) if "train.py --stack ray" in b
    ]
    assert len(sessions) == 3  # the unreachable address, the GPU that is not there, num_gpus=1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWY_", "RAY_"))}
    env.update(
        FLOWY_HOME=str(project.parent / "home"),
        FLOWY_PROJECT=str(project),
        FLOWY_LOAD_PLUGINS="flowy-executor-ray,flowy-executor-local,flowy-store-sqlite",
        COLUMNS="80",
    )
    command = [str(FLOWY)] if FLOWY.exists() else [sys.executable, "-m", "flowy_cli.main"]
    for session in sessions:
        first, *shown = session.strip().splitlines()
        args = shlex.split(first.removeprefix("$ "))
        assert args[0] == "flowy"
        done = subprocess.run(
            [*command, *args[1:]],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        printed = done.stdout + done.stderr
        for line in (s.rstrip() for s in shown):
            if line:
                assert _pattern(line).search(printed), f"{first}: {line!r} not in\n{printed}"
