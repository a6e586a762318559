"""Streaming steps: a large stream through Flowy against pyarrow writing and reading it directly.

``python benchmarks/streaming.py [--mb N] [--chunk-mb N] [--repeat N]``
(``FLOWY_BENCH_STREAM_MB`` sets the default size, 4096 MB; e.g. 512 for a quick run)

Three workloads, each in a fresh Python process (so peak RSS is its own), on the
same disk (the current folder), each stream made of the same pre-built chunk (a
pyarrow Table of 8 random float64 columns, ``--chunk-mb`` MB) yielded again and
again, so making data costs nothing on either side:

* ``raw``: ``pq.ParquetWriter.write_table`` of each chunk (one row group each),
  then ``ParquetFile.read_row_group`` of each, summing one column: pyarrow alone.
* ``artifact``: the same chunks through Flowy's artifact layer in one process: a
  generator written with ``write_artifact`` (the ``chunked_parquet`` materializer:
  row groups, the file's BLAKE3 checksum and each chunk's), then read back with
  the iterator a step annotated ``Iterator[pa.Table]`` gets (each chunk verified
  before it is handed on, the whole checksum at the end), summing the same column.
* ``run``: a real two-step pipeline on the local stack (SQLite metadata, local
  artifacts): a generator step yields the chunks, the next step takes
  ``Iterator[pa.Table]`` and sums the column; the whole ``run_pipeline`` is timed
  (start-up, records and all).

Throughput is stream MB (in memory) per second of write + read; the ratio is
Flowy's throughput over raw pyarrow's (target >= 70 %). Peak RSS is the process's
``ru_maxrss``; "above imports" subtracts the RSS after the imports. Each workload
deletes what it wrote. Runs are interleaved; the table shows medians.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

COLUMNS = 8


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _chunk(chunk_mb: int) -> Any:
    import numpy as np
    import pyarrow as pa

    rows = chunk_mb * (1 << 20) // (8 * COLUMNS)
    data = np.random.default_rng(0).random((COLUMNS, rows))
    return pa.table({f"c{i}": data[i] for i in range(COLUMNS)})


@functools.cache
def _plugins() -> Any:
    """The first-party plugins (built once, before the timed section)."""
    import importlib

    from flowy.kernel.plugins import create_plugin_manager

    names = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-materializers", "flowy_materializers.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False, plugins=[(n, importlib.import_module(m)) for n, m in names]
    )


@functools.cache
def _registry() -> Any:
    from flowy.artifacts.resolution import MaterializerRegistry

    return MaterializerRegistry(_plugins().registry)


def _raw(folder: str, chunk: Any, count: int) -> float:
    import pyarrow.parquet as pq

    path = os.path.join(folder, "raw.parquet")
    writer = pq.ParquetWriter(path, chunk.schema, compression="snappy")
    for _ in range(count):
        writer.write_table(chunk, row_group_size=chunk.num_rows)
    writer.close()
    total = 0.0
    parquet = pq.ParquetFile(path, pre_buffer=False)
    for group in range(parquet.metadata.num_row_groups):
        total += _sum(parquet.read_row_group(group))
    os.unlink(path)
    return total


def _sum(table: Any) -> float:
    import pyarrow.compute as pc

    return float(pc.sum(table.column("c0")).as_py())


def _artifact(folder: str, chunk: Any, count: int) -> float:
    import pyarrow as pa
    from flowy.artifacts.store_io import write_artifact
    from flowy.run.streaming import ChunkIterator
    from flowy_store_sqlite.local_store import LocalArtifactStore

    class Runtime:
        artifact_store = LocalArtifactStore(os.path.join(folder, "store"))
        materializers = _registry()

    def stream() -> Iterator[Any]:
        for _ in range(count):
            yield chunk

    store, registry = Runtime.artifact_store, Runtime.materializers
    ref = write_artifact(store, "run/produce/out", "out", stream(), registry)
    total = 0.0
    for table in ChunkIterator(Runtime, ref, pa.Table, allow_pickle=False):  # type: ignore[arg-type]
        total += _sum(table)
    store.delete(ref.uri)
    return total


def _run(folder: str, chunk: Any, count: int) -> float:
    import pyarrow as pa
    from flowy import Pipeline, step
    from flowy.run.engine import run_pipeline

    @step(cache=False)
    def produce() -> Iterator[pa.Table]:
        for _ in range(count):
            yield chunk

    @step(cache=False)
    def consume(produce: Iterator[pa.Table]) -> float:
        return sum(_sum(table) for table in produce)

    result = run_pipeline(Pipeline("bench-stream", [produce, consume]), plugins=_plugins())
    assert result.ok, result.steps
    return float(result["consume"])


def child(variant: str, folder: str, mb: int, chunk_mb: int) -> dict[str, Any]:
    """Run one workload in this process; return its timing and memory."""
    import pyarrow.parquet  # noqa: F401 - imported before the baseline on every side

    if variant != "raw":
        import flowy.run.streaming  # noqa: F401
        import flowy_materializers.chunked_materializer  # noqa: F401

        _registry()  # plugins loaded before the timed section (a run's start-up is timed)
    chunk = _chunk(chunk_mb)
    count = max(1, mb // chunk_mb)
    baseline = _rss_mb()
    start = time.perf_counter()
    total = {"raw": _raw, "artifact": _artifact, "run": _run}[variant](folder, chunk, count)
    elapsed = time.perf_counter() - start
    stream_mb = count * chunk.nbytes / (1 << 20)
    return {
        "s": elapsed,
        "stream_mb": stream_mb,
        "mb_s": stream_mb / elapsed,
        "peak_mb": _rss_mb(),
        "baseline_mb": baseline,
        "total": total,
    }


def run_child(variant: str, mb: int, chunk_mb: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flowy-bench-stream-", dir=os.getcwd()) as folder:
        env = dict(os.environ, FLOWY_PROJECT=folder, FLOWY_HOME=os.path.join(folder, "home"))
        env.pop("FLOWY_STACK", None)
        os.makedirs(os.path.join(folder, ".flowy"))
        cmd = [sys.executable, __file__, "--child", variant, "--dir", folder,
               "--mb", str(mb), "--chunk-mb", str(chunk_mb)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=folder,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def measure(mb: int, chunk_mb: int, repeat: int) -> dict[str, dict[str, float]]:
    """Median figures of each workload (what :func:`main` prints)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(repeat):  # interleaved, so drift hits every side alike
        for variant in ("raw", "artifact", "run"):
            runs.setdefault(variant, []).append(run_child(variant, mb, chunk_mb))
    totals = {v: {r["total"] for r in rs} for v, rs in runs.items()}
    assert len(set().union(*totals.values())) == 1, f"the sums differ: {totals}"
    return {
        variant: {
            key: float(statistics.median(r[key] for r in results))
            for key in ("s", "stream_mb", "mb_s", "peak_mb", "baseline_mb")
        }
        for variant, results in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_mb = int(os.environ.get("FLOWY_BENCH_STREAM_MB", "4096"))
    parser.add_argument("--mb", type=int, default=default_mb, help="stream size in MB")
    parser.add_argument("--chunk-mb", type=int, default=32, help="chunk size in MB")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.mb, args.chunk_mb)))
        return
    figures = measure(args.mb, args.chunk_mb, args.repeat)
    raw = figures["raw"]["mb_s"]
    print(
        f"stream {figures['raw']['stream_mb']:.0f} MB in {args.chunk_mb} MB chunks; median of "
        f"{args.repeat}; disk: {os.getcwd()}; python {sys.version.split()[0]}"
    )
    header = f"{'workload':<10}{'s':>8}{'MB/s':>9}{'of raw':>8}{'peak MB':>9}{'above imports':>15}"
    print(header)
    print("-" * len(header))
    for variant, f in figures.items():
        print(
            f"{variant:<10}{f['s']:>8.1f}{f['mb_s']:>9.0f}{f['mb_s'] / raw:>8.0%}"
            f"{f['peak_mb']:>9.0f}{f['peak_mb'] - f['baseline_mb']:>15.0f}"
        )
    print("target: artifact and run >= 70 % of raw (write + read the same row groups)")


if __name__ == "__main__":
    main()
