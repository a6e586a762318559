"""Live updates (``/api/v1/live``) and cancelling runs, against real servers and real runs.

Each test module's project is its own (the shared filled project is counted by
other tests): a real uvicorn server over it, real ``flowy run`` subprocesses
writing to the same SQLite store, a real WebSocket client (websockets) and SSE
over httpx. A held step waits for a gate file the test creates only after it
saw the step running, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowy_ui.tokens import TokenStore
from ui_support import FIRST_PARTY, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

PATIENCE = 90.0

GATED = textwrap.dedent(
    """
    import os
    import time

    from flowy import Pipeline, step

    GATE = os.environ.get("GATE", "")


    @step(cache=False)
    def prepare() -> int:
        return 1


    @step(cache=False)
    def hold(prepare: int) -> int:
        deadline = time.monotonic() + 120
        while GATE and not os.path.exists(GATE) and time.monotonic() < deadline:
            time.sleep(0.02)
        return prepare + 1


    gated = Pipeline("gated", [prepare, hold])
    """
)


class Project:
    """A project of its own with the gated pipeline, and how to start runs in it."""

    def __init__(self, root: Path) -> None:
        self.root = root / "project"
        self.home = root / "home"
        (self.root / ".flowy").mkdir(parents=True)
        self.home.mkdir()
        (self.root / "gated_pipeline.py").write_text(GATED)

    def env(self, **extra: str) -> dict[str, str]:
        import os

        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
        names = [name for name, _ in FIRST_PARTY] + ["flowy-ui"]
        env.update(
            FLOWY_HOME=str(self.home),
            FLOWY_PROJECT=str(self.root),
            FLOWY_LOAD_PLUGINS=",".join(names),
        )
        env.update(extra)
        return env

    def start_run(self, gate: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "flowy_cli.main", "run", "gated_pipeline.py"],
            cwd=self.root, env=self.env(GATE=str(gate)), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def run_once(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "flowy_cli.main", "run", "gated_pipeline.py"],
            cwd=self.root, env=self.env(), text=True, capture_output=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    made = Project(tmp_path_factory.mktemp("live"))
    made.run_once()  # the store exists (and has a finished run) before a server opens it
    return made


@contextlib.contextmanager
def server(project: Project, tmp: Path, plugins: Any, **options: Any) -> Iterator[tuple[str, Any]]:
    from flowy_ui.app import create_app
    from flowy_ui.settings import Settings

    options.setdefault("tokens_file", tmp / "tokens.json")
    options.setdefault("audit_file", tmp / "audit.jsonl")
    app = create_app(Settings(project=project.root, stack="local", **options), plugins)
    with serve(app) as url:
        yield url, app


def protocols(*names: str) -> list[Subprotocol]:
    return [Subprotocol(n) for n in names]


def ws_url(url: str, query: str = "") -> str:
    return url.replace("http://", "ws://") + "/api/v1/live" + (f"?{query}" if query else "")


def receive(ws: ClientConnection, until: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Messages up to and including the first ``until`` accepts (a generous ceiling)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=PATIENCE))
        got.append(message)
        if until(message):
            return got
    raise AssertionError(f"gave up; received {got}")


def sse(
    url: str, query: str, count: int, headers: dict[str, str] | None = None
) -> list[tuple[str | None, dict[str, Any]]]:
    """The first ``count`` events (id, data) of the SSE stream, hello included."""
    found: list[tuple[str | None, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=url, timeout=PATIENCE) as client,
        client.stream("GET", f"/api/v1/live/events?{query}", headers=headers or {}) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id: str | None = None
        for line in response.iter_lines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                found.append((event_id, json.loads(line[6:])))
                event_id = None
                if len(found) == count:
                    return found
    raise AssertionError(f"the stream ended after {found}")


def test_changes_of_a_flowy_run_in_another_process_reach_every_listener(
    project: Project, plugins: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with server(project, tmp_path, plugins) as (url, app):
        with connect(ws_url(url)) as runs_list:
            hello = json.loads(runs_list.recv(timeout=PATIENCE))
            assert hello["kind"] == "hello" and isinstance(hello["seq"], int)
            start = hello["seq"]
            run = project.start_run(gate)
            try:
                (new,) = receive(runs_list, lambda m: m["kind"] == "run")
                assert new["status"] == "running" and new["step"] is None
                run_id = new["run_id"]
                with connect(ws_url(url, f"run={run_id[:8]}")) as page:
                    json.loads(page.recv(timeout=PATIENCE))  # hello
                    with httpx.Client(base_url=url, timeout=30) as api:

                        def hold_running() -> bool:
                            dag = api.get(f"/api/v1/runs/{run_id}/dag").json()
                            return any(
                                n["id"] == "hold" and n["status"] == "running" for n in dag["nodes"]
                            )

                        deadline = time.monotonic() + PATIENCE
                        while not hold_running():
                            assert time.monotonic() < deadline, "hold never showed as running"
                            time.sleep(0.05)
                        detail = api.get(f"/api/v1/runs/{run_id}").json()
                        running = [s for s in detail["steps"] if s["status"] == "running"]
                        assert [s["step"] for s in running] == ["hold"]
                        assert running[0]["started_at"] >= detail["started_at"]
                    gate.touch()
                    events = receive(
                        page, lambda m: m["kind"] == "run" and m["status"] == "completed"
                    )
                out, _ = run.communicate(timeout=PATIENCE)
                assert run.returncode == 0, out
            finally:
                gate.touch()
                if run.poll() is None:
                    run.kill()
            # The runs list heard the run end too, and nothing of its steps.
            ended = receive(runs_list, lambda m: m["status"] == "completed")
            assert {m["kind"] for m in ended} == {"run"} and ended[-1]["run_id"] == run_id
        seen = [(m["step"], m["status"]) for m in events]
        assert seen[-2:] == [("hold", "completed"), (None, "completed")]
        assert all(m["run_id"] == run_id for m in events)
        seqs = [m["seq"] for m in events]
        assert seqs == sorted(seqs) and seqs[0] > start

        # Resuming: since= on a socket, since= and Last-Event-ID on SSE give what followed.
        full = [
            (c.step, c.status) for c in _store_changes(app) if c.run_id == run_id and c.seq > start
        ]
        assert full == [
            (None, "running"),
            ("prepare", "running"),
            ("prepare", "completed"),
            ("hold", "running"),
            ("hold", "completed"),
            (None, "completed"),
        ]
        with connect(ws_url(url, f"run={run_id}&since={start}")) as again:
            replayed = receive(again, lambda m: m.get("status") == "completed" and not m["step"])
        assert [(m["step"], m["status"]) for m in replayed[1:]] == full
        streamed = sse(url, f"run={run_id}&since={start}", 1 + len(full))
        assert [(d["step"], d["status"]) for _, d in streamed[1:]] == full
        assert [i for i, _ in streamed[1:]] == [str(d["seq"]) for _, d in streamed[1:]]
        third = streamed[3][0]
        assert third is not None
        tail = sse(url, f"run={run_id}&since=0", 1 + len(full) - 3, {"Last-Event-ID": third})
        assert [(d["step"], d["status"]) for _, d in tail[1:]] == full[3:]
        # Run-level only without run=: the runs list never hears of steps.
        listed = sse(url, f"since={start}", 3)
        assert [(d["kind"], d["status"]) for _, d in listed[1:]] == [
            ("run", "running"),
            ("run", "completed"),
        ]


def _store_changes(app: Any) -> list[Any]:
    from flowy.tracking import Client

    settings = app.state.settings
    with Client(stack="local", project=settings.project) as client:
        return list(client.store.changes_since(0, 100_000))


def test_an_idle_server_reads_nothing_and_an_unknown_run_is_refused(
    project: Project, plugins: Any, tmp_path: Path
) -> None:
    with server(project, tmp_path, plugins) as (url, app):
        hub = app.state.live
        before = hub.polls
        with connect(ws_url(url)) as ws:
            json.loads(ws.recv(timeout=PATIENCE))
            project.run_once()  # while someone listens, the hub reads the feed
            receive(ws, lambda m: m["status"] == "completed")
        assert hub.polls > before
        deadline = time.monotonic() + PATIENCE
        while hub.stats()["subscribers"]:
            assert time.monotonic() < deadline, "the closed socket stayed subscribed"
            time.sleep(0.05)
        sse(url, "", 1)  # an SSE reader that goes away is unsubscribed too
        while hub.stats()["subscribers"]:
            assert time.monotonic() < deadline, "the closed event stream stayed subscribed"
            time.sleep(0.05)
        time.sleep(0.5)  # let a poll already under way finish
        idle = hub.polls
        project.run_once()  # nobody listens: nothing is read, whatever happens
        assert hub.polls == idle
        with pytest.raises(ConnectionClosed) as closed, connect(ws_url(url, "run=ffffffff")) as ws:
            first = json.loads(ws.recv(timeout=PATIENCE))
            assert first["kind"] == "error" and first["code"] == "not_found"
            ws.recv(timeout=PATIENCE)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
        with httpx.Client(base_url=url, timeout=30) as api:
            assert api.get("/api/v1/live/events?run=ffffffff").status_code == 404
            bad = api.get("/api/v1/live/events?since=-3")
            assert bad.status_code in (400, 422) and "since" in bad.text


def test_tokens_and_origins_are_checked_on_the_socket(
    project: Project, plugins: Any, tmp_path: Path
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    _, viewer = store.create("vera", "viewer")
    with server(project, tmp_path, plugins) as (url, _):
        # No token: refused (4401) after the socket had its chance to send one.
        with pytest.raises(ConnectionClosed) as refused, connect(ws_url(url)) as ws:
            ws.send(json.dumps({"token": "flowy_wrong_token"}))
            assert json.loads(ws.recv(timeout=PATIENCE))["code"] == "unauthorized"
            ws.recv(timeout=PATIENCE)
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
        # The token as the first message, or as a subprotocol (never in the URL).
        with connect(ws_url(url)) as ws:
            ws.send(json.dumps({"token": viewer}))
            assert json.loads(ws.recv(timeout=PATIENCE))["kind"] == "hello"
        with connect(
            ws_url(url), subprotocols=protocols("flowy.live.v1", f"bearer.{viewer}")
        ) as ws:
            assert ws.subprotocol == "flowy.live.v1"
            assert json.loads(ws.recv(timeout=PATIENCE))["kind"] == "hello"
        # Another site's page: refused before the handshake completes.
        with pytest.raises(InvalidStatus) as foreign:
            connect(ws_url(url), origin=Origin("http://evil.example"))
        assert foreign.value.response.status_code == 403
        host = url.removeprefix("http://")
        with connect(
            ws_url(url), origin=Origin(f"http://{host}"), subprotocols=protocols(f"bearer.{viewer}")
        ) as ws:
            assert json.loads(ws.recv(timeout=PATIENCE))["kind"] == "hello"
        # SSE goes through the HTTP checks: no token, 401.
        with httpx.Client(base_url=url, timeout=30) as api:
            assert api.get("/api/v1/live/events").status_code == 401


def test_cancel_a_running_run_from_the_api(project: Project, plugins: Any, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    _, viewer = store.create("vera", "viewer")
    _, editor = store.create("eddie", "editor")
    gate = tmp_path / "never"  # the held step is only ever cancelled
    with (
        server(project, tmp_path, plugins) as (url, _),
        connect(ws_url(url), subprotocols=protocols(f"bearer.{editor}")) as ws,
    ):
        start = json.loads(ws.recv(timeout=PATIENCE))["seq"]
        run = project.start_run(gate)
        try:
            (new,) = receive(ws, lambda m: m["kind"] == "run")
            run_id = new["run_id"]
            with (
                connect(
                    ws_url(url, f"run={run_id}&since={start}"),
                    subprotocols=protocols(f"bearer.{editor}"),
                ) as page,
                httpx.Client(base_url=url, timeout=30) as api,
            ):
                json.loads(page.recv(timeout=PATIENCE))
                receive(page, lambda m: m["step"] == "hold" and m["status"] == "running")
                as_viewer = api.post(
                    f"/api/v1/runs/{run_id}/cancel",
                    headers={"Authorization": f"Bearer {viewer}"},
                )
                assert as_viewer.status_code == 403
                auth = {"Authorization": f"Bearer {editor}"}
                asked = api.post(f"/api/v1/runs/{run_id[:10]}/cancel", headers=auth)
                assert asked.status_code == 202, asked.text
                assert asked.json() == {
                    "run_id": run_id,
                    "requested": True,
                    "status": "cancelling",
                }
                again = api.post(f"/api/v1/runs/{run_id}/cancel", headers=auth)
                assert again.status_code == 202 and again.json()["requested"] is False
                events = receive(page, lambda m: m["kind"] == "run" and m["status"] == "cancelled")
                statuses = [(m["step"], m["status"]) for m in events]
                assert (None, "cancelling") in statuses
                assert ("hold", "cancelled") in statuses
                finished = api.post(f"/api/v1/runs/{run_id}/cancel", headers=auth)
                assert finished.status_code == 409
                assert "cancelled, not running" in finished.json()["error"]["message"]
                unknown = api.post("/api/v1/runs/ffffffff/cancel", headers=auth)
                assert unknown.status_code == 404
                detail = api.get(f"/api/v1/runs/{run_id}", headers=auth).json()
                assert detail["status"] == "cancelled"
                assert {s["step"]: s["status"] for s in detail["steps"]} == {
                    "prepare": "completed",
                    "hold": "cancelled",
                }
            out, _ = run.communicate(timeout=PATIENCE)
            assert run.returncode == 130, out
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    cancels = [(a["token"], a["outcome"]) for a in audit if a["action"].endswith("cancel")]
    assert ("eddie", "ok") in cancels and ("eddie", "refused") in cancels
    assert any(a["token"] == "vera" and a["outcome"] == "refused" for a in audit)


def test_a_slow_subscriber_is_dropped_with_a_resync_and_never_blocks_others() -> None:
    import asyncio

    from flowy_ui.live import RESYNC, Subscriber

    async def scenario() -> tuple[list[Any], list[Any]]:
        slow, fast = Subscriber(None, size=3), Subscriber(None, size=100)
        for seq in range(1, 11):
            event = {"seq": seq, "kind": "run", "run_id": "r", "step": None, "status": "x"}
            for sub in (slow, fast):
                sub.offer(event)
            await asyncio.sleep(0)
        drained = []
        while not fast.queue.empty():
            drained.append(fast.queue.get_nowait()["seq"])
        return [slow.queue.get_nowait() for _ in range(slow.queue.qsize())], drained

    slow_got, fast_got = asyncio.run(scenario())
    assert slow_got == [RESYNC]
    assert fast_got == list(range(1, 11))


def test_a_gap_in_the_sequence_is_waited_for_then_passed(
    project: Project, plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What PostgreSQL does (a change committed after a higher one), made on SQLite by
    deleting the changes just above the watcher's cursor before it reads them."""
    from flowy.testing.records_factory import make_run, make_step
    from flowy.tracking import Client
    from flowy_ui import live
    from flowy_ui.clients import ClientPool

    pool = ClientPool("local", project.root, plugins)
    hub = live.LiveHub(pool)
    try:
        hub._catch_up()
        start = hub.cursor
        with Client(stack="local", project=project.root, plugins=plugins) as client:
            store = client.store
            gone, kept = make_run("gated"), make_run("gated")
            store.create_run(gone)
            store.record_step(make_step(gone, "prepare"))
            store.finish_run(gone.run_id, "completed", gone.started_at + 1)
            store.delete_runs([gone.run_id])  # its three changes leave a gap above the cursor
            store.create_run(kept)
        first = hub._poll()
        assert [(e["run_id"], e["status"]) for e in first] == [(kept.run_id, "running")]
        assert hub.cursor == start  # held below the gap: a late commit would still be read
        assert hub._poll() == []  # never sent twice
        monkeypatch.setattr(live, "GAP_WAIT", 0.0)
        hub._poll()
        assert hub.cursor == first[0]["seq"]  # the gap was given up on
    finally:
        pool.close()
