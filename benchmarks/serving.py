"""`flowy model serve` beside `mlflow models serve` on the same scikit-learn model (issue 16).

One sitting, one machine, 127.0.0.1:

* the model: the `flowy init --template sklearn` pipeline (a ColumnTransformer and a
  50-tree random forest on a frame with a categorical column), run and registered in a
  fresh project; the very same fitted object saved with `mlflow.sklearn.save_model`
  and served by `mlflow models serve --env-manager local` (MLflow 3.17.2, installed
  here as flowy-mlflow's test dependency);
* single-row JSON: ``--requests`` requests from ``--concurrency`` client threads
  (keep-alive connections), p50/p99 latency and throughput for each server
  (targets: Flowy's throughput >= 2x MLflow's, its p99 <= half MLflow's);
* a 100,000-row Arrow batch to Flowy, decode and transfer included, against
  `model.predict` on the same frame in this process (target: >= 80 %); MLflow's
  JSON ``dataframe_split`` of the same rows beside it;
* start-up: from starting `flowy model serve` to the first successful prediction
  (target: < 1.5 s).

``python benchmarks/serving.py [--requests N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _support import flowy_command, flowy_env, free_port, percentiles, server

ROW = {"x1": 0.3, "x2": -1.2, "region": "north"}


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, kind: str) -> bytes:
    conn.request("POST", path, body=body, headers={"Content-Type": kind})
    answer = conn.getresponse()
    data = answer.read()
    if answer.status != 200:
        raise SystemExit(f"POST {path} answered {answer.status}: {data[:500]!r}")
    return data


def load(port: int, path: str, body: bytes, requests: int, concurrency: int) -> dict[str, float]:
    """``requests`` single-row POSTs from ``concurrency`` threads: p50/p99 ms, requests/s."""
    times: list[float] = []
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            _post(conn, path, body, "application/json")
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            times.extend(mine)

    for _ in range(max(20, concurrency)):  # warm up: connections, first-call caches
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        _post(warm, path, body, "application/json")
        warm.close()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {**percentiles(times), "rps": len(times) / elapsed}


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def first_prediction(command: list[str], cwd: Path, env: dict[str, str], port: int) -> Any:
    """Start ``command`` (a server on ``port``); (the process, seconds to a first prediction)."""
    single = json.dumps({"records": [ROW]}).encode()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            _post(conn, "/predict", single, "application/json")
            return proc, time.perf_counter() - started
        except OSError:
            if time.perf_counter() - started > 120 or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"{command} did not answer within 120 s") from None
            time.sleep(0.01)


def packaged_start(flowy: list[str], project: Path, env: dict[str, str], root: Path) -> float:
    """`flowy model package`, a fresh venv with only its requirements, start to first answer.

    What a container built from the package does, without Docker: no PyTorch or
    TensorFlow installed beside scikit-learn, no project store.
    """
    out, venv = root / "context", root / "venv"
    subprocess.run([*flowy, "model", "package", "clf", "--out", str(out)], cwd=project,
                   env=env, check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--find-links", str(out / "wheels"), "-r", str(out / "requirements.txt")],
                   check=True, capture_output=True)  # fmt: skip
    clean = {k: v for k, v in env.items() if not k.startswith("FLOWY_")}
    clean.update(FLOWY_HOME=str(root / "venv-home"), PATH=f"{venv / 'bin'}:{env['PATH']}")
    port = free_port()
    command = [str(venv / "bin" / "flowy"), "model", "serve", "clf", "--from-dir", str(out),
               "--port", str(port)]  # fmt: skip
    proc, took = first_prediction(command, root, clean, port)
    proc.terminate()
    proc.wait(30)
    return float(took)


def flowy_server(
    flowy: list[str], project: Path, env: dict[str, str], extra: list[str], args: Any,
    arrow_body: bytes, in_process: Callable[[], Any],
) -> dict[str, Any]:  # fmt: skip
    """Start `flowy model serve`; time the first prediction, the single-row load, the batch."""
    port = free_port()
    single = json.dumps({"records": [ROW]}).encode()
    command = [*flowy, "model", "serve", "clf", "--port", str(port), *extra]
    proc, first = first_prediction(command, project, env, port)
    try:
        loaded = load(port, "/predict", single, args.requests, args.concurrency)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        # Alternated with the in-process call, best of five each: the machine's load drifts.
        batch = local = float("inf")
        for _ in range(5):
            local = min(local, timed(in_process, repeat=1))
            batch = min(batch, timed(
                lambda: _post(conn, "/predict", arrow_body, "application/vnd.apache.arrow.stream"),
                repeat=1,
            ))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
    return {"first": first, "single": loaded, "batch": batch, "local": local}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument(
        "--packaged", action="store_true",
        help="also time start-up from `flowy model package` in a fresh venv (pip installs)",
    )  # fmt: skip
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    root = Path(tempfile.mkdtemp(prefix="flowy-serving-bench-"))
    project, home = root / "project", root / "home"
    env = flowy_env(project, home)
    flowy = flowy_command()
    subprocess.run([*flowy, "init", str(project), "--template", "sklearn"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([*flowy, "run", "pipeline.py"], cwd=project, env=env, check=True,
                   capture_output=True)  # fmt: skip
    listed = subprocess.run(
        [*flowy, "artifacts", "list", "--name", "train", "--json"],
        cwd=project, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    artifact = json.loads(listed.stdout)[0]["artifact_id"]
    for command in (["register", "clf", artifact], ["promote", "clf", "1", "--to", "production"]):
        subprocess.run([*flowy, "model", *command], cwd=project, env=env, check=True,
                       capture_output=True)  # fmt: skip

    os.environ.update(FLOWY_HOME=str(home), FLOWY_PROJECT=str(project))
    from flowy.tracking import Client

    with Client(project=project) as client:
        model = client.models.load("clf")
    rng = np.random.default_rng(0)
    n = args.batch_rows
    regions = pd.Categorical(rng.choice(["north", "south", "east"], n))
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "region": regions})

    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    arrow_body = sink.getvalue()
    predict_frame = lambda: model.predict(frame)  # noqa: E731
    plain = flowy_server(flowy, project, env, [], args, arrow_body, predict_frame)
    batched = flowy_server(
        flowy, project, env, ["--batch-max-rows", "64"], args, arrow_body, predict_frame
    )
    first_start, flowy_batch, in_process = plain["first"], plain["batch"], plain["local"]
    flowy_single, batched_single = plain["single"], batched["single"]

    # -- MLflow, the same fitted object ------------------------------------------
    import mlflow.sklearn

    mlflow_dir = root / "mlflow-model"
    mlflow.sklearn.save_model(
        model, str(mlflow_dir), skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
    mport = free_port()
    mlflow_cmd = [
        str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m", str(mlflow_dir),
        "--env-manager", "local", "-p", str(mport), "-h", "127.0.0.1",
    ]  # fmt: skip
    mlflow_body = json.dumps({"dataframe_records": [ROW]}).encode()
    bin_dir = str(Path(sys.executable).parent)  # MLflow runs `uvicorn` from PATH
    mlflow_env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    with server("mlflow models serve", mlflow_cmd, mport, "/ping", env=mlflow_env):
        mlflow_single = load(mport, "/invocations", mlflow_body, args.requests, args.concurrency)
        split = json.dumps(
            {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
        )
        mconn = http.client.HTTPConnection("127.0.0.1", mport, timeout=300)
        mlflow_batch = timed(
            lambda: _post(mconn, "/invocations", split.encode(), "application/json"), repeat=1
        )

    print(f"model: sklearn template (ColumnTransformer + 50-tree random forest), "
          f"{args.requests} single-row requests, {args.concurrency} client threads")  # fmt: skip
    print(f"{'':38} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    rows = (("flowy model serve", flowy_single),
            ("flowy model serve --batch-max-rows 64", batched_single),
            ("mlflow models serve", mlflow_single))  # fmt: skip
    for name, row in rows:
        print(f"{name:38} {row['p50']:8.2f} {row['p99']:8.2f} {row['rps']:8.0f}")
    for name, row in rows[:2]:
        ratio = row["rps"] / mlflow_single["rps"]
        p99 = row["p99"] / mlflow_single["p99"]
        print(f"{name}: throughput {ratio:.2f}x MLflow's (target >= 2x), "
              f"p99 {p99:.2f} of MLflow's (target <= 0.5)")  # fmt: skip
    share = in_process / flowy_batch
    print(f"{n:,}-row batch: in process {in_process * 1000:.0f} ms, Flowy Arrow "
          f"{flowy_batch * 1000:.0f} ms ({share:.0%} of in-process speed, target >= 80%), "
          f"MLflow JSON {mlflow_batch * 1000:.0f} ms")  # fmt: skip
    print(f"start to first prediction: {first_start:.2f} s in this environment (target < 1.5 s)")
    if args.packaged:
        took = packaged_start(flowy, project, env, root)
        print(f"start to first prediction, packaged (fresh venv, --from-dir): {took:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
