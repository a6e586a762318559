"""Ctrl-C during ``flowy run --sweep``: every running combination is recorded cancelled,
none of the waiting ones starts, and the command exits 130 (issue #14)."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flowy.tracking.client import Client

PIPELINE = textwrap.dedent(
    """
    import time
    from flowy import Pipeline, step

    @step
    def base() -> int:
        return 1

    @step
    def work(base: int, alpha: float = 0.1) -> float:
        time.sleep(60)
        return alpha

    pipeline = Pipeline("interrupted", [base, work])
    """
)


@pytest.mark.slow
def test_ctrl_c_cancels_the_running_combinations(
    tmp_path: Path, flowy_env: Any, flowy_command: list[str]
) -> None:
    root = tmp_path / "proj"
    (root / ".flowy").mkdir(parents=True)
    (root / "p.py").write_text(PIPELINE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(root))
    proc = subprocess.Popen(
        [*flowy_command, "run", "p.py", "--sweep", "alpha=1,2,3,4", "--sweep-parallel", "2"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while sum(" running " in line for line in lines) < 2:  # both workers are in `work`
        assert time.monotonic() < deadline, "".join(lines)
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    time.sleep(0.5)  # let `work` begin its sleep
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=60)
    text = "".join(lines) + out
    assert proc.returncode == 130, text
    assert "Sweep interrupted: 0 ended, 2 cancelled while running, 2 not started." in text
    with Client("local", root) as client:
        runs = client.store.list_runs(limit=10)
        assert sorted(r.status for r in runs) == ["cancelled", "cancelled"]
        for run in runs:
            steps = {s.step: s.status for s in client.store.get_step_runs(run.run_id)}
            assert steps["work"] == "cancelled"
