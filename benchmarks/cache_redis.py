"""Redis cache index benchmark (issue 17): one cache lookup through Redis on 127.0.0.1.

Starts a redis-server on a free loopback port (no persistence), publishes
``--entries`` entries (two outputs each) through the ``redis`` cache index, then
times, alternating A B A B in the same run against the same server:

* A, the raw anchor: ``GET`` of the entry's key with redis-py (one round trip);
* B, ``RedisCacheIndex.lookup``: the same ``GET`` plus decoding the entry and its
  outputs' records (what a machine does per cacheable step on a local miss).

Prints p50 / p99 of each, and the batched hit report of a 100-step run.
Target: a lookup's p99 under 2 ms. Run: ``python benchmarks/cache_redis.py
[--lookups 5000] [--entries 1000]`` (needs flowy-cache-redis and redis-server).
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    from flowy.testing.records_factory import make_artifact, make_entry, make_run
    from flowy_cache_redis.index import RedisCacheIndex

    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        proc, url = start_redis(folder)
        try:
            index = RedisCacheIndex(url=url)
            run = make_run("bench", started_at=time.time())
            keys = []
            for i in range(args.entries):
                refs = {n: make_artifact(n, uri=f"/shared/{uuid.uuid4().hex}/{n}") for n in "ab"}
                entry = make_entry(run, f"s{i}", {n: r.artifact_id for n, r in refs.items()})
                index.publish(entry, refs)
                keys.append(entry.key)
            raw_client = index.client
            raw, flowy = [], []
            for i in range(args.lookups):
                key = random.choice(keys)
                for which in (0, 1) if i % 2 == 0 else (1, 0):
                    started = time.perf_counter()
                    if which == 0:
                        assert raw_client.get(f"flowy:e:{key}") is not None
                    else:
                        assert index.lookup(key) is not None
                    (raw if which == 0 else flowy).append(time.perf_counter() - started)
            started = time.perf_counter()
            index.record_hits(keys[:100], time.time())
            hits = time.perf_counter() - started
        finally:
            proc.kill()
            proc.wait()
    ms = 1000.0
    print(f"{args.lookups} lookups over {args.entries} entries, redis-server on 127.0.0.1")
    print(f"raw GET       p50 {pct(raw, 0.5) * ms:.3f} ms   p99 {pct(raw, 0.99) * ms:.3f} ms")
    print(f"index.lookup  p50 {pct(flowy, 0.5) * ms:.3f} ms   p99 {pct(flowy, 0.99) * ms:.3f} ms")
    print(f"hits x100     {hits * ms:.3f} ms (one script call per run)")
    ok = pct(flowy, 0.99) < 0.002
    print(f"target p99 < 2 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
