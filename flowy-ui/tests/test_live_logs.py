"""A running step's output through the API while the step runs (issue 13's streaming logs).

A real ``flowy run`` in another process prints a line from a step that then
waits on a gate file; the test creates the gate only after it read the line
through ``GET /api/v1/runs/{id}/steps/{step}/logs`` (``live: true``) and heard
the ``output`` change on the run page's WebSocket, so nothing depends on the
machine's speed. After the gate, the same URL serves the step's full, recorded log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_live import PATIENCE, Project, receive, server, ws_url
from websockets.sync.client import connect

PRINTING = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    GATE = os.environ.get("GATE", "")


    @step(cache=False)
    def talk() -> int:
        print("first line, printed while the step runs", flush=True)
        deadline = time.monotonic() + 120
        while GATE and not os.path.exists(GATE) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("last line, printed as it ends")
        return 1


    printing = Pipeline("printing", [talk])
    """
)


RETRYING = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    GATE, TRIES = os.environ.get("GATE", ""), os.environ.get("TRIES", "")


    @step(cache=False, retries=1, retry_backoff=0.01, retry_on=ConnectionError)
    def flaky() -> int:
        n = len(os.listdir(TRIES)) + 1 if TRIES else 2
        if TRIES:
            open(os.path.join(TRIES, str(n)), "w").close()
        print(f"attempt number {n} prints", flush=True)
        if n == 1:
            raise ConnectionError("busy")
        deadline = time.monotonic() + 120
        while GATE and not os.path.exists(GATE) and time.monotonic() < deadline:
            time.sleep(0.02)
        return n


    retrying = Pipeline("retrying", [flaky])
    """
)


class PrintingProject(Project):
    """The live tests' project, with a pipeline whose step prints and then waits."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        (self.root / "printing_pipeline.py").write_text(PRINTING)
        (self.root / "retrying_pipeline.py").write_text(RETRYING)

    def start_printing(
        self, gate: Path, file: str = "printing_pipeline.py", **env: str
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "flowy_cli.main", "run", file],
            cwd=self.root, env=self.env(GATE=str(gate), **env), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> PrintingProject:
    made = PrintingProject(tmp_path_factory.mktemp("live-logs"))
    made.run_once()  # the store exists before a server opens it
    return made


def _newest_run(api: httpx.Client, pipeline: str) -> str | None:
    for run in api.get("/api/v1/runs", params={"limit": 5}).json()["items"]:
        if run["pipeline"] == pipeline and run["status"] == "running":
            return str(run["run_id"])
    return None


def test_a_running_steps_output_is_served_live_then_its_full_log(
    project: PrintingProject, plugins: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with server(project, tmp_path, plugins) as (url, _app):
        with connect(ws_url(url)) as runs_list:  # where the feed is before the run starts
            start = json.loads(runs_list.recv(timeout=PATIENCE))["seq"]
        run = project.start_printing(gate)
        try:
            with httpx.Client(base_url=url, timeout=30) as api:
                deadline = time.monotonic() + PATIENCE
                run_id = None
                while run_id is None:
                    assert time.monotonic() < deadline, "the run never showed as running"
                    time.sleep(0.05)
                    run_id = _newest_run(api, "printing")
                logs_url = f"/api/v1/runs/{run_id}/steps/talk/logs"
                with connect(ws_url(url, f"run={run_id}&since={start}")) as page:
                    json.loads(page.recv(timeout=PATIENCE))  # hello
                    live: dict[str, Any] = {}
                    while "first line" not in live.get("logs", ""):
                        assert time.monotonic() < deadline, f"no live output; last {live}"
                        time.sleep(0.05)
                        response = api.get(logs_url)
                        if response.status_code == 200:
                            live = response.json()
                    assert live["live"] is True and live["traceback"] is None
                    assert "last line" not in live["logs"]
                    # The page heard that the step printed (so its logs panel refreshes).
                    heard = receive(page, lambda m: m["kind"] == "output")
                    assert heard[-1]["step"] == "talk" and heard[-1]["run_id"] == run_id
                    gate.touch()
                    receive(page, lambda m: m["kind"] == "run" and m["status"] == "completed")
                final = api.get(logs_url).json()
                assert final["live"] is False
                assert "first line" in final["logs"] and "last line" in final["logs"]
                # An unknown step of a running or finished run: a clear 404, never a 500.
                missing = api.get(f"/api/v1/runs/{run_id}/steps/nope/logs")
                assert missing.status_code == 404 and "nope" in missing.text
            out, _ = run.communicate(timeout=PATIENCE)
            assert run.returncode == 0, out
        finally:
            gate.touch()
            if run.poll() is None:
                run.kill()
                run.wait()


def test_the_live_tail_separates_attempts_as_the_recorded_log_does(
    project: PrintingProject, plugins: Any, tmp_path: Path
) -> None:
    gate, tries = tmp_path / "gate", tmp_path / "tries"
    tries.mkdir()
    with server(project, tmp_path, plugins) as (url, _app):
        run = project.start_printing(gate, "retrying_pipeline.py", TRIES=str(tries))
        try:
            with httpx.Client(base_url=url, timeout=30) as api:
                deadline = time.monotonic() + PATIENCE
                run_id = None
                while run_id is None:
                    assert time.monotonic() < deadline, "the run never showed as running"
                    time.sleep(0.05)
                    run_id = _newest_run(api, "retrying")
                logs_url = f"/api/v1/runs/{run_id}/steps/flaky/logs"
                live: dict[str, Any] = {}
                while "attempt number 2 prints" not in live.get("logs", ""):
                    assert time.monotonic() < deadline, f"no second attempt's output; last {live}"
                    time.sleep(0.05)
                    response = api.get(logs_url)
                    if response.status_code == 200:
                        live = response.json()
                assert live["live"] is True
                assert live["logs"] == (
                    "attempt number 1 prints\n--- attempt 2 ---\nattempt number 2 prints\n"
                )
                gate.touch()
                out, _ = run.communicate(timeout=PATIENCE)
                assert run.returncode == 0, out
                final = api.get(logs_url).json()
                assert final["live"] is False
                assert final["logs"] == (
                    "attempt number 1 prints\n--- attempt 2 ---\nattempt number 2 prints\n"
                )
        finally:
            gate.touch()
            if run.poll() is None:
                run.kill()
                run.wait()
