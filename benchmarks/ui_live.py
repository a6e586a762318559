"""flowy-ui live updates (issue 13), printed as one table.

* (a) latency: a pipeline of 20 chained steps run by ``flowy run`` in another
  process while Chromium shows its run page; for every step change (started,
  completed: 40 in all) the time from the change (its ``at`` in the store's
  change feed, written by the run's process) to the page showing it (a
  MutationObserver stamps each DAG node's status as it is drawn). Median and
  p95; target < 500 ms.
* (b) load: 200 WebSocket clients each holding a live connection (asyncio +
  websockets) while a run produces changes and another loop makes API GETs
  (the runs list, one run); p50/p99 of the GETs (target p99 < 250 ms), errors
  (target 0), and every client must have heard the run end.
* (c) idle CPU of the server process (``/proc`` via psutil) over 10 s with no
  run in progress: with the 200 clients still connected (the watcher polls the
  feed every 200 ms) and with none (the watcher makes no query at all).
  Target < 2 %.

The server is the real ``flowy ui`` (uvicorn) on a fresh project with its own
SQLite store. ``FLOWY_UI_STATIC_DIR`` names a frontend build other than the
shipped one. Run: ``python benchmarks/ui_live.py [--clients N]``. About 2 min.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

STEPS = 20
# Steps take their upstream as a parameter named after it: a chain s00 -> s01 -> ...
CHAIN = "\n".join(
    [
        "import time",
        "from flowy import Pipeline, step",
        "",
        *[
            textwrap.dedent(
                f"""
                @step(cache=False)
                def s{i:02d}({f"s{i - 1:02d}: int" if i else ""}) -> int:
                    time.sleep(0.4)
                    return {i}
                """
            )
            for i in range(STEPS)
        ],
        f"chain = Pipeline('chain', [{', '.join(f's{i:02d}' for i in range(STEPS))}])",
    ]
)

OBSERVER = """
() => {
  window.__seen = {};
  const stamp = () => {
    for (const node of document.querySelectorAll('[data-testid="dag-node"]')) {
      const key = node.getAttribute('data-node-id') + '|' + node.getAttribute('data-status');
      if (!(key in window.__seen)) window.__seen[key] = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(stamp).observe(document.body, {subtree: true, childList: true,
    attributes: true, attributeFilter: ['data-status']});
  stamp();
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root / "project"
        (self.root / ".flowy").mkdir(parents=True)
        (self.root / "chain_pipeline.py").write_text(CHAIN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
        env.update(FLOWY_HOME=str(root / "home"), FLOWY_PROJECT=str(self.root))
        if os.environ.get("FLOWY_UI_STATIC_DIR"):
            env["FLOWY_UI_STATIC_DIR"] = os.environ["FLOWY_UI_STATIC_DIR"]
        self.env = env

    def flowy(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "flowy_cli.main", *args],
            cwd=self.root, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def changes(self) -> list[Any]:
        from flowy.tracking import Client

        with Client(project=self.root) as client:
            return list(client.store.changes_since(0, 1_000_000))


def start_server(project: Project) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = project.flowy("ui", "--no-browser", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as reply:
                if json.load(reply)["status"] == "ok":
                    return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"flowy ui did not start: {proc.stdout.read() if proc.stdout else ''}")


def latency(project: Project, url: str) -> list[float]:
    """(a): milliseconds from each step change to the page drawing it."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(url + "/runs")
        page.locator('[data-testid="live-indicator"][data-state="live"]').wait_for()
        run = project.flowy("run", "chain_pipeline.py")
        row = page.locator('[data-testid="run-row"][data-status="running"]')
        row.wait_for()
        run_id = row.get_attribute("data-run-id")
        row.locator("a").first.click()
        page.locator('[data-testid="dag-node"]').first.wait_for()
        page.evaluate(OBSERVER)
        last = f"s{STEPS - 1:02d}"
        page.locator(
            f'[data-testid="dag-node"][data-node-id="{last}"][data-status="completed"]'
        ).wait_for()
        seen: dict[str, float] = page.evaluate("window.__seen")
        browser.close()
    run.communicate(timeout=120)
    found = []
    watching_since = min(seen.values())
    for change in project.changes():
        if change.run_id != run_id or change.step is None:
            continue
        drawn = seen.get(f"{change.step}|{change.status}")
        # Changes made before the page watched are not measured (the first step's start).
        if drawn is not None and change.at * 1000 > watching_since:
            found.append(drawn - change.at * 1000)
    return found


async def load(project: Project, url: str, clients: int, seconds: float) -> dict[str, Any]:
    """(b): ``clients`` live sockets, a run, and API GETs meanwhile."""
    import httpx
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/api/v1/live"
    heard_end = 0
    errors = 0
    stop = asyncio.Event()
    opened = 0

    async def client(i: int) -> None:
        nonlocal heard_end, errors, opened
        try:
            async with connect(ws_url, open_timeout=60, max_queue=None) as ws:
                opened += 1
                ended = False
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    msg = json.loads(raw)
                    if msg.get("kind") == "run" and msg.get("status") == "completed":
                        ended = True
                heard_end += ended
        except Exception:  # noqa: BLE001 - counted
            errors += 1

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    deadline = time.monotonic() + 60
    while opened + errors < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    run = project.flowy("run", "chain_pipeline.py")
    timings: list[float] = []
    api_errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        run_ids = [r["run_id"] for r in (await api.get("/api/v1/runs?limit=5")).json()["items"]]
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end or run.poll() is None:
            path = "/api/v1/runs?limit=50" if i % 2 == 0 else f"/api/v1/runs/{run_ids[0]}"
            started = time.perf_counter()
            try:
                reply = await api.get(path)
                if reply.status_code != 200:
                    api_errors += 1
            except httpx.HTTPError:
                api_errors += 1
            timings.append((time.perf_counter() - started) * 1000)
            i += 1
            await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # the run's last change reaches every client
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "clients": clients,
        "opened": opened,
        "heard_end": heard_end,
        "socket_errors": errors,
        "api_errors": api_errors,
        "gets": len(timings),
        "p50": statistics.median(timings),
        "p99": percentile(timings, 99),
    }


def idle_cpu(pid: int, seconds: float = 10.0) -> float:
    """Percent of one CPU the process used over ``seconds``."""
    import psutil

    proc = psutil.Process(pid)
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / seconds


async def hold_clients(url: str, clients: int, seconds: float, pid: int) -> float:
    """(c) with ``clients`` connected: the server's CPU while nothing changes."""
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/api/v1/live"
    sockets = [await connect(ws_url, open_timeout=60) for _ in range(clients)]
    await asyncio.sleep(2.0)  # connections settled
    cpu = await asyncio.to_thread(idle_cpu, pid, seconds)
    for ws in sockets:
        await ws.close()
    return cpu


def server_pid(proc: subprocess.Popen[str]) -> int:
    return proc.pid  # `python -m flowy_cli.main ui` serves in this very process


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    static = os.environ.get("FLOWY_UI_STATIC_DIR") or "(the shipped build)"
    with tempfile.TemporaryDirectory(prefix="flowy-ui-live-") as tmp:
        project = Project(Path(tmp))
        warm = project.flowy("run", "chain_pipeline.py")  # the store exists before the server
        warm.communicate(timeout=300)
        server, url = start_server(project)
        try:
            pid = server_pid(server)
            lat = latency(project, url)
            loaded = asyncio.run(load(project, url, args.clients, args.seconds))
            time.sleep(2.0)
            busy_idle = asyncio.run(hold_clients(url, args.clients, 10.0, pid))
            time.sleep(2.0)
            idle = idle_cpu(pid, 10.0)
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = [
        ("(a) step change -> page, median", f"{statistics.median(lat):.0f} ms", "< 500 ms"),
        ("(a) step change -> page, p95", f"{percentile(lat, 95):.0f} ms", f"{len(lat)} changes"),
        ("(b) API GET p50 with live clients", f"{loaded['p50']:.1f} ms", f"{loaded['gets']} GETs"),
        ("(b) API GET p99 with live clients", f"{loaded['p99']:.1f} ms", "< 250 ms"),
        ("(b) errors (API, sockets)", f"{loaded['api_errors']}, {loaded['socket_errors']}", "0"),
        (
            "(b) clients that heard the run end",
            f"{loaded['heard_end']}/{loaded['clients']}",
            f"{loaded['opened']} opened",
        ),
        (f"(c) idle CPU, {args.clients} clients connected", f"{busy_idle:.2f} %", "< 2 %"),
        ("(c) idle CPU, no client", f"{idle:.2f} %", "< 2 %"),
    ]
    print(f"flowy-ui live updates (frontend: {static})")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>12}  {note}")
    ok = (
        statistics.median(lat) < 500
        and loaded["p99"] < 250
        and loaded["api_errors"] == loaded["socket_errors"] == 0
        and busy_idle < 2
        and idle < 2
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
