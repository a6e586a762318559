"""The real ``flowy ui`` command: serving, Ctrl-C, the loopback rule, tokens."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _flowy(filled, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = filled.env(**({"FLOWY_HOME": str(home)} if home else {}))
    return subprocess.run(
        [*FLOWY, *args], cwd=filled.project, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_help_explains_everything(filled) -> None:
    done = _flowy(filled, "ui", "--help")
    assert done.returncode == 0, done.stderr
    for word in ["--host", "--port", "--stack", "--no-browser", "--read-only", "viewer",
                 "editor", "admin", "token", "/api/v1", "loopback"]:  # fmt: skip
        assert word in done.stdout, word
    listed = _flowy(filled, "--help")
    assert " ui " in listed.stdout


def test_serves_until_sigint(filled) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*FLOWY, "ui", "--no-browser", "--port", str(port)], cwd=filled.project,
        env=filled.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "flowy ui did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        runs = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs", timeout=30).json()
        assert {r["run_id"] for r in runs["items"]} >= {filled.failed, filled.train[-1]}
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err, err
    assert proc.returncode == 0, (proc.returncode, err)
    assert "Flowy UI stopped." in out


def test_public_host_without_token_is_refused(filled, tmp_path) -> None:
    done = _flowy(filled, "ui", "--host", "0.0.0.0", "--no-browser", home=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "flowy ui token create NAME --role" in done.stderr
    assert "0.0.0.0" in done.stderr


def test_token_commands(filled, tmp_path) -> None:
    made = _flowy(filled, "ui", "token", "create", "carol", "--role", "editor", home=tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("flowy_") and "shown only" in made.stderr
    path = tmp_path / "ui" / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in path.read_text()
    again = _flowy(filled, "ui", "token", "create", "carol", home=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr
    listed = json.loads(_flowy(filled, "ui", "token", "list", "--json", home=tmp_path).stdout)
    assert [(t["name"], t["role"]) for t in listed] == [("carol", "editor")]
    assert "hash" not in listed[0] and "salt" not in listed[0]
    revoked = _flowy(filled, "ui", "token", "revoke", "carol", home=tmp_path)
    assert revoked.returncode == 0
    gone = _flowy(filled, "ui", "token", "revoke", "carol", home=tmp_path)
    assert gone.returncode != 0 and "No token named 'carol'" in gone.stderr
    bad = _flowy(filled, "ui", "token", "create", "../x", home=tmp_path)
    assert bad.returncode != 0
