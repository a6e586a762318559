"""MLflow's tracking UI on the issue-13 volume, the anchor beside Flowy's UI figures.

Issue 13 asks for Flowy's runs page and runs API to be measured "side by side with
MLflow's UI on the same data volume". This script measures MLflow's side:

* installs MLflow (``mlflow==3.17.2``, the version flowy-mlflow pins, with its server)
  into a venv of its own under ``--data`` on first use, as ``../shared/peers`` keeps
  each peer in its own venv;
* fills an MLflow SQLite backend with ``--runs`` runs (default 100,000) in one
  experiment, each with 20 metrics (a ``metrics`` row and a ``latest_metrics``
  row each, what MLflow's runs table reads), 5 parameters and a run name,
  written straight into MLflow's own tables (its Python client would take hours
  at this volume) after ``SqlAlchemyStore`` created the schema; the file is kept
  under ``--data`` and reused while its row counts match;
* starts the real ``mlflow server`` on 127.0.0.1;
* ``runs/search`` (what the runs page calls) with a metric filter, 100 runs a page,
  sorted by a metric: p50/p99 over ``--requests`` requests;
* the experiment's runs page in Debian's Chromium (Playwright): from navigation
  to the first run names drawn in the table, median of ``--loads``.

The Flowy side of each row is ``benchmarks/ui_runs.py``; run both in one sitting:
``python benchmarks/ui_runs.py && python benchmarks/ui_mlflow.py`` (or
``nox -s benchmarks -- ui_runs ui_mlflow``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from _support import CHROMIUM_ARGS, chromium, free_port, percentiles, server

MLFLOW = "mlflow==3.17.2"
METRICS = 20
PARAMS = 5
EXPERIMENT = "bench"


def _counts(db: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        latest = con.execute("SELECT count(*) FROM latest_metrics").fetchone()[0]
    return int(runs), int(latest)


def fill(venv: Path, db: Path, artifacts: Path, runs: int) -> str:
    """An MLflow backend at ``db`` with ``runs`` runs; returns the experiment id."""
    if db.exists():
        try:
            if _counts(db) == (runs, runs * METRICS):
                with contextlib.closing(sqlite3.connect(db)) as con:
                    row = con.execute(
                        "SELECT experiment_id FROM experiments WHERE name = ?", (EXPERIMENT,)
                    ).fetchone()
                return str(row[0])
        except sqlite3.Error:
            pass
        db.unlink()
    made = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
         "s = SqlAlchemyStore(sys.argv[1], sys.argv[2]); print(s.create_experiment(sys.argv[3]))",
         f"sqlite:///{db}", str(artifacts), EXPERIMENT],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    experiment_id = made.stdout.strip().splitlines()[-1]
    rng = random.Random(13)
    start = int(time.time() * 1000) - runs * 1000
    t0 = time.perf_counter()
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = OFF")
        batch = 5000
        for first in range(0, runs, batch):
            run_rows, metric_rows, latest_rows, param_rows, tag_rows = [], [], [], [], []
            for i in range(first, min(first + batch, runs)):
                run_id = uuid.UUID(int=rng.getrandbits(128)).hex
                began = start + i * 1000
                run_rows.append((
                    run_id, f"bench-run-{i:06d}", "LOCAL", "bench.py", "", "bench",
                    "FINISHED" if i % 10 else "FAILED", began, began + 800, "", "active",
                    f"{artifacts}/{run_id}", int(experiment_id), None,
                ))  # fmt: skip
                for m in range(METRICS):
                    value = rng.random()
                    metric_rows.append((f"m{m}", value, began + 500, run_id, 0, 0))
                    latest_rows.append((f"m{m}", value, began + 500, 0, 0, run_id))
                for p in range(PARAMS):
                    param_rows.append((f"p{p}", str(rng.choice([0.01, 0.1, 1, 10])), run_id))
                tag_rows.append(("mlflow.runName", f"bench-run-{i:06d}", run_id))
                tag_rows.append(("mlflow.user", "bench", run_id))
            con.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 14)})", run_rows)
            con.executemany("INSERT INTO metrics VALUES (?,?,?,?,?,?)", metric_rows)
            con.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?,?,?,?,?,?)",
                latest_rows,
            )
            con.executemany("INSERT INTO params VALUES (?,?,?)", param_rows)
            con.executemany("INSERT INTO tags VALUES (?,?,?)", tag_rows)
            con.commit()
            print(f"  filled {min(first + batch, runs):,} / {runs:,} runs", flush=True)
    print(f"  fill took {time.perf_counter() - t0:.1f} s", flush=True)
    return str(experiment_id)


def mlflow_venv(data: Path) -> Path:
    """A venv holding :data:`MLFLOW` (made on first use)."""
    venv = data / "mlflow-venv"
    if not (venv / "bin" / "mlflow").exists():
        print(f"  installing {MLFLOW} into {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", MLFLOW], check=True)
    return venv


def _version(venv: Path) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@contextlib.contextmanager
def mlflow_server(venv: Path, db: Path, artifacts: Path) -> Iterator[str]:
    port = free_port()
    command = [
        str(venv / "bin" / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{db}",
        "--default-artifact-root", str(artifacts), "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with server("mlflow server", command, port, "/health") as url:
        yield url


def search_latency(url: str, experiment_id: str, requests: int, budget: float) -> dict[str, float]:
    """p50/p99 of ``runs/search`` over ``requests`` requests, or as many as ``budget`` s allow."""
    body = json.dumps({
        "experiment_ids": [experiment_id],
        "filter": "metrics.m0 > 0.5 and params.p0 = '0.1'",
        "max_results": 100,
        "order_by": ["metrics.m1 DESC"],
    }).encode()  # fmt: skip
    times: list[float] = []
    began = time.monotonic()
    for i in range(requests + 1):
        request = urllib.request.Request(
            url + "/api/2.0/mlflow/runs/search", data=body,
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=1800) as reply:
            found = json.loads(reply.read())
        if i >= 1:  # the first one warms the server up
            times.append((time.perf_counter() - t0) * 1000)
        if times and time.monotonic() - began > budget:
            break
    assert len(found.get("runs", [])) == 100, "the filter should match plenty of runs"
    return percentiles(times)


def page_load(url: str, experiment_id: str, loads: int) -> float:
    """Median ms from navigation to the first run names drawn in MLflow's runs table."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            for _ in range(loads + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/#/experiments/{experiment_id}/runs", timeout=600_000)
                page.wait_for_function(
                    "document.body && document.body.innerText.includes('bench-run-')",
                    timeout=600_000,
                    polling=50,
                )
                results.append(page.evaluate("performance.now()"))
                context.close()
        finally:
            browser.close()
    return statistics.median(results[1:])  # the first load warms the server's caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--budget", type=float, default=180.0,
        help="seconds of search requests at most (MLflow can take seconds per request)",
    )  # fmt: skip
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "flowy-bench",
        help="where the filled database and MLflow's venv are kept between runs",
    )  # fmt: skip
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    db = args.data / f"mlflow-{args.runs}.db"
    artifacts = args.data / "mlflow-artifacts"
    artifacts.mkdir(exist_ok=True)
    print(f"MLflow UI benchmark: {args.runs:,} runs x {METRICS} metrics", flush=True)
    venv = mlflow_venv(args.data)
    experiment_id = fill(venv, db, artifacts, args.runs)
    with mlflow_server(venv, db, artifacts) as url:
        api = search_latency(url, experiment_id, args.requests, args.budget)
        page = page_load(url, experiment_id, args.loads)
    print(f"\n| MLflow {_version(venv)}, {args.runs:,} runs | figure |")
    print("|---|---|")
    print(
        f"| runs/search, 100 a page, metric+param filter, by metric: p50 "
        f"(n={api['n']:.0f}) | {api['p50']:.1f} ms |"
    )
    print(f"| same: p99 | {api['p99']:.1f} ms |")
    print(f"| runs page: navigation to run names drawn (median of {args.loads}) | {page:.0f} ms |")


if __name__ == "__main__":
    main()
