"""Materializer throughput and memory against raw NumPy and pyarrow, on the same disk.

``python benchmarks/materializers.py [--repeat N] [--rows N] [--mb N]``

Four workloads, each in a fresh Python process (so peak RSS is its own):

* ``raw-npy``: make a 200 MB float64 array, ``np.save`` it, ``np.load`` it,
  sum it.
* ``flowy-npy``: the same through a real two-step pipeline on the local
  stack (SQLite metadata, local artifacts): step one returns the array, step
  two receives it (loaded from the artifact store) and sums it.
* ``raw-parquet`` / ``flowy-parquet``: the same for a 2,000,000 x 10 float
  DataFrame with ``pyarrow.parquet`` write/read vs the pandas materializer.

Each process reports the time of its I/O section (persist + load + sum, or
``run_pipeline``) and its peak RSS; the parent times the whole process. The
table gives medians, the throughput ratio raw/flowy (target >= 80 %), and
peak RSS over the object's size (target <= 1.5x). Materializer resolution
is timed per object, in microseconds.

What the figures mean:

* "materializer path" is the reported throughput: the flowy run's I/O time
  minus the fixed cost of a two-step run with a tiny output (``flowy-empty``:
  stack, SQLite records, git/env facts), against the raw I/O time. Both sides
  include making the object and summing it; flowy's also hashes every byte
  written and read (BLAKE3) and records statistics.
* "peak-base" is the peak RSS above the RSS after imports (numpy, pandas,
  pyarrow, and for flowy its plugins), i.e. what the workload itself added;
  "above the imports" divides it by the object's size. The whole-process
  "peak RSS x object" also counts the interpreter and libraries. The raw
  Parquet baseline peaks near 2.8x the frame above its imports: the frame,
  the Arrow table ``from_pandas`` makes of all of it, then on reading the
  table and the consolidated frame ``to_pandas`` copies it into.
* Every run writes fresh files, so the kernel's cost of new page-cache pages
  falls on both sides alike. Runs are interleaved and the table shows
  medians; on a shared machine repeat with ``--repeat 5`` or more.
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
from typing import Any


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _make(kind: str, mb: int, rows: int) -> Any:
    import numpy as np

    if kind == "empty":
        return np.zeros(1)
    if kind == "npy":
        return np.arange(mb * (1 << 20) // 8, dtype=np.float64)
    import pandas as pd

    data = np.random.default_rng(0).random((rows, 10))
    return pd.DataFrame(data, columns=[f"c{i}" for i in range(10)], copy=False)


def _plugins() -> Any:
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


def child(variant: str, folder: str, mb: int, rows: int) -> dict[str, Any]:
    """Run one workload in this process; return its timings and memory."""
    mode, kind = variant.split("-")
    import numpy as np

    if kind == "parquet":
        import pandas as pd  # noqa: F401 - imported before the baseline in both modes
        import pyarrow.parquet as pq
    if mode == "flowy":
        from flowy import Pipeline, step
        from flowy.run.engine import run_pipeline

        plugins = _plugins()
    baseline = _rss_mb()
    start = time.perf_counter()
    if mode == "raw" and kind == "npy":
        path = os.path.join(folder, "raw.npy")
        np.save(path, _make(kind, mb, rows))
        total = float(np.load(path).sum())
    elif mode == "raw":
        import pyarrow as pa

        path = os.path.join(folder, "raw.parquet")
        pq.write_table(pa.Table.from_pandas(_make(kind, mb, rows)), path)
        total = float(pq.read_table(path).to_pandas().sum().sum())
    else:

        @step
        def make() -> Any:
            return _make(kind, mb, rows)

        @step
        def consume(make: Any) -> float:
            return float(make.sum().sum() if kind == "parquet" else make.sum())

        result = run_pipeline(Pipeline(f"bench-{kind}", [make, consume]), plugins=plugins,
                              no_cache=True)  # fmt: skip
        assert result.ok, result.steps
        total = result["consume"]
    elapsed = time.perf_counter() - start
    return {"io_s": elapsed, "peak_mb": _rss_mb(), "baseline_mb": baseline, "total": total}


def resolution_us() -> dict[str, float]:
    """Microseconds to choose a materializer for one object (cached per type, as in runs)."""
    import timeit

    import numpy as np
    import pandas as pd
    from flowy.artifacts.resolution import MaterializerRegistry

    registry = MaterializerRegistry(_plugins().registry)
    objects = {
        "ndarray": np.zeros(3),
        "DataFrame": pd.DataFrame({"a": [1]}),
        "dict (json)": {"a": 1, "b": 2},
        "list (json)": [1, 2, 3],
    }
    out: dict[str, float] = {}
    for label, obj in objects.items():
        first = time.perf_counter()
        registry.resolve(obj)
        out[f"{label} first"] = (time.perf_counter() - first) * 1e6
        n = 20_000
        out[label] = timeit.timeit(functools.partial(registry.resolve, obj), number=n) / n * 1e6
    return out


def run_child(variant: str, mb: int, rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flowy-bench-", dir=os.getcwd()) as folder:
        env = dict(os.environ, FLOWY_PROJECT=folder, FLOWY_HOME=os.path.join(folder, "home"))
        env.pop("FLOWY_STACK", None)
        os.makedirs(os.path.join(folder, ".flowy"))
        cmd = [sys.executable, __file__, "--child", variant, "--dir", folder,
               "--mb", str(mb), "--rows", str(rows)]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=folder,
                              check=False)  # fmt: skip
        whole = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["whole_s"] = whole
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mb", type=int, default=200, help="array size in MiB")
    parser.add_argument("--rows", type=int, default=2_000_000, help="frame rows (10 columns)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.mb, args.rows)))
        return

    sizes = {"npy": args.mb, "parquet": args.rows * 10 * 8 / 2**20, "empty": 0.0}
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):  # interleaved, so drift hits both sides alike
        for variant in ("flowy-empty", "raw-npy", "flowy-npy", "raw-parquet", "flowy-parquet"):
            runs.setdefault(variant, []).append(run_child(variant, args.mb, args.rows))

    def med(variant: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[variant]))

    print(f"median of {args.repeat}; disk: {os.getcwd()}; python {sys.version.split()[0]}")
    header = (
        f"{'workload':<15}{'whole s':>9}{'io s':>8}{'peak MB':>9}{'peak-base':>10}{'object':>8}"
    )
    print(header)
    print("-" * len(header))
    for variant in runs:
        kind = variant.split("-")[1]
        peak, base = med(variant, "peak_mb"), med(variant, "baseline_mb")
        print(f"{variant:<15}{med(variant, 'whole_s'):>9.3f}{med(variant, 'io_s'):>8.3f}"
              f"{peak:>9.0f}{peak - base:>10.0f}{sizes[kind]:>8.0f}")  # fmt: skip
    print()
    fixed = med("flowy-empty", "io_s")
    print(f"fixed cost of a 2-step pipeline run with a tiny output: {fixed:.3f} s "
          "(stack, SQLite records, git/env facts)")  # fmt: skip
    for kind in ("npy", "parquet"):
        raw, flowy = f"raw-{kind}", f"flowy-{kind}"
        whole = med(raw, "whole_s") / med(flowy, "whole_s")
        io = med(raw, "io_s") / med(flowy, "io_s")
        mat = med(raw, "io_s") / max(med(flowy, "io_s") - fixed, 1e-9)
        peak = med(flowy, "peak_mb") / sizes[kind]
        extra = (med(flowy, "peak_mb") - med(flowy, "baseline_mb")) / sizes[kind]
        print(f"{kind:<8} throughput vs raw: whole process {whole:6.1%}, run {io:6.1%}, "
              f"materializer path (run minus fixed cost) {mat:6.1%}; "
              f"flowy peak RSS {peak:.2f}x object ({extra:.2f}x above the imports)")  # fmt: skip
    print("\nmaterializer resolution (microseconds per object):")
    for label, us in resolution_us().items():
        print(f"  {label:<22}{us:8.2f}")


if __name__ == "__main__":
    main()
