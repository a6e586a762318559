"""Retries are shown while they happen (issue 12), through the real ``flowy run``.

The step fails twice, then its third attempt waits until the test has *read* the
second retry line from ``flowy run``'s output: the run completes only if each retry
was printed while the step was still running, however slow the machine. (Each
executor's reporting is checked by the executor contract suite,
``test_retries_are_reported_while_the_step_runs``.)
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

PIPELINE = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    TRIES, SEEN = os.environ["TRIES"], os.environ["SEEN"]


    @step(retries=2, retry_backoff=0.01, retry_on=ConnectionError)
    def fetch() -> str:
        n = len(os.listdir(TRIES)) + 1
        open(os.path.join(TRIES, str(n)), "w").close()
        if n < 3:
            raise ConnectionError(f"server busy (try {n})")
        deadline = time.monotonic() + 60
        while not os.path.exists(SEEN):
            if time.monotonic() > deadline:
                raise RuntimeError("nobody saw the retries while the step ran")
            time.sleep(0.01)
        return "fetched"


    pipeline = Pipeline("flaky-fetch", [fetch])
    """
)


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pipeline.py").write_text(PIPELINE)
    tries = tmp_path / "tries"
    tries.mkdir()
    return project, tries, tmp_path / "seen"


def test_each_retry_is_printed_while_the_step_runs(
    tmp_path: Path, flowy_env, flowy_command
) -> None:
    project, tries, seen = _project(tmp_path)
    env = flowy_env(tmp_path / "home", TRIES=str(tries), SEEN=str(seen))
    proc = subprocess.Popen(
        [*flowy_command, "run", "pipeline.py"], cwd=project, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # a pipe: one plain line per event, flushed as it happens
        lines.append(line.rstrip("\n"))
        if line.startswith("fetch: retrying") and "attempt 2 of 3" in line:
            seen.touch()  # the step's third attempt waits for this
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(timeout=120) == 0, "\n".join(lines) + stderr
    events = [line for line in lines if line.startswith("fetch:")]
    assert events[0] == "fetch: running"
    assert events[1] == (
        "fetch: retrying  attempt 1 of 3 failed: ConnectionError: server busy (try 1); "
        "next in 10 ms"
    )
    assert events[2] == (
        "fetch: retrying  attempt 2 of 3 failed: ConnectionError: server busy (try 2); "
        "next in 20 ms"
    )
    assert events[3].startswith("fetch: done") and events[3].endswith(", 3 attempts")
    assert len(events) == 4


def test_a_retry_on_a_terminal_is_a_line_above_the_spinner(
    tmp_path: Path, flowy_env, flowy_command, in_terminal
) -> None:
    project, tries, seen = _project(tmp_path)
    seen.touch()  # the view, not the timing, is what this test checks
    env = flowy_env(tmp_path / "home", TRIES=str(tries), SEEN=str(seen))
    code, out = in_terminal([*flowy_command, "run", "pipeline.py"], project, env)
    assert code == 0, out
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    first = plain.index("↻ fetch retrying attempt 1 of 3 failed: ConnectionError: server busy")
    second = plain.index("↻ fetch retrying attempt 2 of 3 failed: ConnectionError: server busy")
    done = plain.index("✓ fetch done")
    assert first < second < done
