"""``flowy ui start|stop|status`` (the server in the background) and expiring tokens."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from flowy_ui.tokens import TokenStore

_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]


def _flowy(filled, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLOWY, *args], cwd=filled.project, env=filled.env(FLOWY_HOME=str(home)),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "healthz", timeout=5)
    except httpx.TransportError:
        return True
    return False


def test_start_status_stop_in_the_background(filled, tmp_path: Path) -> None:
    home = tmp_path / "home"
    started = _flowy(filled, home, "ui", "start", "--port", "0")
    assert started.returncode == 0, started.stdout + started.stderr
    record = json.loads((home / "ui" / "server.json").read_text())
    assert record["url"] in started.stdout and str(record["pid"]) in started.stdout
    try:
        # The command returned, and the server it left behind answers.
        assert httpx.get(record["url"] + "healthz", timeout=10).json()["status"] == "ok"
        runs = httpx.get(record["url"] + "api/v1/runs", timeout=30).json()["items"]
        assert {r["run_id"] for r in runs} >= set(filled.train[-3:])

        status = _flowy(filled, home, "ui", "status")
        assert status.returncode == 0 and record["url"] in status.stdout
        as_json = json.loads(_flowy(filled, home, "ui", "status", "--json").stdout)
        assert as_json["pid"] == record["pid"] and as_json["uptime"] >= 0

        again = _flowy(filled, home, "ui", "start", "--port", "0")
        said = " ".join(again.stderr.split())  # the error display may wrap lines
        assert again.returncode != 0
        assert "already running" in said and "flowy ui stop" in said
        assert json.loads((home / "ui" / "server.json").read_text()) == record
    finally:
        stopped = _flowy(filled, home, "ui", "stop")
    assert stopped.returncode == 0 and f"pid {record['pid']}" in stopped.stdout, stopped.stderr
    assert "stopped" in stopped.stdout
    assert _refused(record["url"])
    assert not (home / "ui" / "server.json").exists()
    gone = _flowy(filled, home, "ui", "status")
    assert gone.returncode == 3 and "No background Flowy UI" in gone.stdout
    assert _flowy(filled, home, "ui", "stop").returncode == 0  # stopping twice is fine
    assert "--- flowy ui start" in (home / "ui" / "server.log").read_text()


def test_a_server_that_cannot_start_is_reported_with_its_output(filled, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _flowy(filled, home, "ui", "start", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode != 0
    said = " ".join(done.stderr.split())  # the error display may wrap lines
    assert "exited with status 2" in said
    assert "no token exists" in said  # the refusal, copied from the server's log
    assert not (home / "ui" / "server.json").exists()


def test_a_stale_pid_file_is_not_a_running_server(filled, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "ui").mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = {"pid": int(dead.stdout), "url": "http://127.0.0.1:1/", "project": "x",
             "log": "x", "started_at": time.time(), "process_start": "1"}  # fmt: skip
    (home / "ui" / "server.json").write_text(json.dumps(stale))
    status = _flowy(filled, home, "ui", "status")
    assert status.returncode == 3 and "No background Flowy UI" in status.stdout
    assert not (home / "ui" / "server.json").exists()
    # A record naming a live process that is not the server (its start time differs)
    # is stale too, and `stop` must not signal that process.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (home / "ui" / "server.json").write_text(json.dumps({**stale, "pid": bystander.pid}))
        stop = _flowy(filled, home, "ui", "stop")
        assert stop.returncode == 0 and "No background Flowy UI" in stop.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_start_help_names_the_pid_file_and_log(filled, tmp_path: Path) -> None:
    done = _flowy(filled, tmp_path, "ui", "start", "--help")
    assert done.returncode == 0
    said = " ".join(done.stdout.split())  # help text is wrapped to the terminal's width
    for word in ["--port", "--host", "--read-only", "server.log", "server.json", "flowy ui stop"]:
        assert word in said, word


# -- tokens that expire --------------------------------------------------------


def test_token_lifetime_from_the_command_line(filled, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    made = _flowy(filled, tmp_path, "ui", "token", "create", "temp", "--expires-in", "90d",
                  "--tokens-file", str(tokens))  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "valid until" in made.stderr
    (record,) = TokenStore(tokens).load()
    assert record.expires_at == pytest.approx(record.created_at + 90 * 86400)
    listed = _flowy(filled, tmp_path, "ui", "token", "list", "--tokens-file", str(tokens))
    assert "until" in listed.stdout
    for bad in ["soon", "-3d", "0", "12y", "99999d"]:
        refused = _flowy(filled, tmp_path, "ui", "token", "create", "other", "--expires-in",
                         bad, "--tokens-file", str(tokens))  # fmt: skip
        assert refused.returncode != 0, bad
        assert "90d" in " ".join(refused.stderr.split()), (bad, refused.stderr)
    assert [r.name for r in TokenStore(tokens).load()] == ["temp"]  # nothing half-written


def test_an_expired_token_is_refused_saying_so(filled, ui_server, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    _, forever = store.create("forever", "viewer")
    _, brief = store.create("brief", "viewer", lifetime=3600)
    with ui_server(tmp_path) as (url, _app):
        assert httpx.get(url + "/api/v1/runs", headers={"Authorization": f"Bearer {brief}"},
                         timeout=30).status_code == 200  # fmt: skip
        # Time passes: rewrite the record as if its hour were over (the server
        # re-reads a changed tokens file, and re-checks expiry on every request).
        data = json.loads(store.path.read_text())
        for row in data["tokens"]:
            if row["name"] == "brief":
                row["expires_at"] = time.time() - 1
        store.path.write_text(json.dumps(data))
        expired = httpx.get(url + "/api/v1/runs", headers={"Authorization": f"Bearer {brief}"},
                            timeout=30)  # fmt: skip
        assert expired.status_code == 401
        assert "expired" in expired.json()["error"]["message"]
        still = httpx.get(url + "/api/v1/runs", headers={"Authorization": f"Bearer {forever}"},
                          timeout=30)  # fmt: skip
        assert still.status_code == 200
    listed = _flowy(filled, tmp_path, "ui", "token", "list", "--json",
                    "--tokens-file", str(store.path))  # fmt: skip
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["forever"]["expires_at"] is None and rows["brief"]["expires_at"] < time.time()
