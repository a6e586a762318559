"""Lineage and list benchmarks (issue 5): stores filled in bulk, timed as a user sees them.

Rows (median of ``--repeat`` after one untimed warm-up):

* ``flowy runs list`` (whole process) on a project whose store holds 10,000
  runs x 20 metrics; target < 300 ms. For context: ``python -c "import flowy"``
  and ``flowy --help`` in the same environment.
* lineage of an artifact 10 levels deep in a store of 100,000 artifacts
  (10,000 runs of a 10-step chain): ``SQLMetadataStore.lineage`` upstream of a
  leaf and downstream of a root, in process; target < 100 ms. And
  ``flowy artifacts lineage --upstream --json`` as a whole process.

Stores are filled with ``executemany`` in one transaction on the store's own
SQLite file (seconds, not the hours that recording runs one by one would take).

Run: ``python benchmarks/lineage.py [--repeat N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

PLUGINS = "flowy-executor-local,flowy-store-sqlite,flowy-materializers"


def median_of(repeat: int, fn: Callable[[], float]) -> float:
    fn()  # warm-up: page cache, .pyc files
    return statistics.median(fn() for _ in range(repeat))


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def new_store(project: Path) -> str:
    """Create the project's default store (schema at head); return its file path."""
    (project / ".flowy").mkdir(parents=True)
    code = (
        "from flowy.tracking.client import Client\n"
        "with Client() as c: print(c.store.url.removeprefix('sqlite:///'))\n"
    )
    env = {**os.environ, "FLOWY_PROJECT": str(project), "FLOWY_LOAD_PLUGINS": PLUGINS}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def run_row(run_id: str, pipeline: str, t: float) -> tuple[object, ...]:
    params = json.dumps({"lr": 0.01, "epochs": 10, "seed": 0})
    return (
        run_id,
        pipeline,
        "completed",
        params,
        "{}",
        t,
        t + 1.0,
        "{}",
        "{}",
        pipeline,
        None,
        None,
    )


def fill_runs(db: str, runs: int, metrics: int) -> None:
    now = time.time()
    ids = [uuid.uuid4().hex for _ in range(runs)]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_row(r, "train", now - i) for i, r in enumerate(ids)),
        )
        conn.executemany(
            "INSERT INTO metrics (run_id, step, name, value, idx, timestamp) VALUES (?,?,?,?,?,?)",
            ((r, "fit", f"m{j}", j / 10, None, now) for r in ids for j in range(metrics)),
        )


def fill_chains(db: str, chains: int, depth: int) -> tuple[str, str]:
    """``chains`` runs of a ``depth``-step chain; return (a leaf, a root) artifact id."""
    now = time.time()
    leaf = root = ""
    runs, artifacts, edges = [], [], []
    for c in range(chains):
        run_id = uuid.uuid4().hex
        runs.append(run_row(run_id, "chain", now - c))
        previous = None
        for level in range(depth):
            aid = uuid.uuid4().hex
            step = f"s{level}"
            artifacts.append(
                (
                    aid,
                    run_id,
                    step,
                    step,
                    f"/a/{aid}",
                    "builtins.int",
                    "json",
                    "1",
                    "ab" * 32,
                    8,
                    "{}",
                    now - c,
                    "artifact",
                    None,
                )
            )
            edges.append((aid, run_id, step, "produced", step))
            if previous is not None:
                edges.append((previous, run_id, step, "consumed", f"s{level - 1}"))
            previous = aid
            if c == chains // 2 and level == 0:
                root = aid
        if c == chains // 2:
            leaf = previous or ""
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", runs)
        conn.executemany(
            "INSERT INTO artifacts (artifact_id, run_id, step, name, uri, type_name, materializer,"
            " materializer_version, checksum, size, metadata, created_at, asset_type, asset_name)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            artifacts,
        )
        conn.executemany(
            "INSERT INTO lineage (artifact_id, run_id, step, direction, name) VALUES (?,?,?,?,?)",
            edges,
        )
    return leaf, root


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    flowy = shutil.which("flowy") or str(Path(sys.executable).with_name("flowy"))
    work = Path(tempfile.mkdtemp(prefix="flowy-bench-lineage-"))
    env = {**os.environ, "FLOWY_HOME": str(work / "home"), "FLOWY_LOAD_PLUGINS": PLUGINS}
    env.pop("FLOWY_STACK", None)
    figures: dict[str, float] = {}

    runs_project = work / "runs"
    db = new_store(runs_project)
    start = time.perf_counter()
    fill_runs(db, 10_000, 20)
    figures["fill_10k_runs_200k_metrics_s"] = time.perf_counter() - start
    penv = {**env, "FLOWY_PROJECT": str(runs_project)}
    figures["import_flowy_s"] = median_of(
        args.repeat, lambda: timed([sys.executable, "-c", "import flowy"], runs_project, penv)
    )
    figures["flowy_help_s"] = median_of(
        args.repeat, lambda: timed([flowy, "--help"], runs_project, penv)
    )
    figures["flowy_runs_list_10k_runs_s"] = median_of(
        args.repeat, lambda: timed([flowy, "runs", "list"], runs_project, penv)
    )
    figures["flowy_runs_list_json_10k_runs_s"] = median_of(
        args.repeat, lambda: timed([flowy, "runs", "list", "--json"], runs_project, penv)
    )

    chain_project = work / "chains"
    db = new_store(chain_project)
    start = time.perf_counter()
    leaf, root = fill_chains(db, 10_000, 10)
    figures["fill_100k_artifacts_s"] = time.perf_counter() - start

    from flowy_store_sqlite.metadata import SQLMetadataStore

    store = SQLMetadataStore(db)
    try:
        graph = store.lineage(leaf, downstream=False)
        assert len(graph.upstream) == 9 and max(graph.upstream.values()) == 9, graph.upstream
        assert len(store.lineage(root, upstream=False).downstream) == 9

        def walk(aid: str, up: bool) -> float:
            t = time.perf_counter()
            store.lineage(aid, upstream=up, downstream=not up)
            return time.perf_counter() - t

        figures["lineage_upstream_depth10_100k_s"] = median_of(
            args.repeat * 3, lambda: walk(leaf, True)
        )
        figures["lineage_downstream_depth10_100k_s"] = median_of(
            args.repeat * 3, lambda: walk(root, False)
        )

        def both() -> float:
            t = time.perf_counter()
            store.lineage(leaf)
            return time.perf_counter() - t

        figures["lineage_both_depth10_100k_s"] = median_of(args.repeat * 3, both)
        # With ANALYZE statistics, SQLite (3.38+) adds bloom filters to the recursive step,
        # and builds them by scanning the lineage indexes on every step: the walk still
        # answers, ~1000x slower. Flowy never runs ANALYZE; this row shows the cost if one did.
        with sqlite3.connect(db) as conn:
            conn.execute("ANALYZE")
        store.close()
        store = SQLMetadataStore(db)
        figures["lineage_upstream_after_ANALYZE_s"] = median_of(
            args.repeat, lambda: walk(leaf, True)
        )
    finally:
        store.close()
    cenv = {**env, "FLOWY_PROJECT": str(chain_project)}
    figures["flowy_artifacts_lineage_cli_s"] = median_of(
        args.repeat,
        lambda: timed(
            [flowy, "artifacts", "lineage", leaf, "--upstream", "--json"], chain_project, cenv
        ),
    )
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name:40s} {value * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
