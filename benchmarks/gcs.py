"""GCS benchmark (issue 17): a 200 MB artifact to and from gcp-storage-emulator on loopback.

Compares, in the same run and against the same emulator (its own process,
in memory):

* raw gcsfs ``put_file`` (its resumable upload in ``--chunk-mb`` pieces) and
  ``cat_file`` (the whole object in one request, into memory);
* the flowy ``gcs`` artifact store's ``open_write`` / ``open_read``, streaming
  the bytes in 1 MiB writes and reads as a materializer does (the core's
  BLAKE3 is not included: it is the same for every store).

Raw and store alternate (A B A B ...) so drift in the machine's load hits both
alike; each figure is the median of ``--repeat`` runs. Target: the store
reaches at least 50% of raw gcsfs throughput each way.
Run: ``python benchmarks/gcs.py [--size-mb 200] [--repeat 3]`` (needs flowy-gcp and the
emulator: ``pip install -e './flowy-gcp[test]'``).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
         "--port", str(port), "--in-memory", "--quiet", "--default-bucket", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b/bench", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gcp-storage-emulator did not start within 30 s")


def alternate(a: Callable[[], None], b: Callable[[], None], repeat: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, run A B A B ..."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((a, times[0]), (b, times[1])):
            started = time.perf_counter()
            fn()
            out.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-mb", type=int, default=16)
    args = parser.parse_args()

    port = free_port()
    emulator = start_emulator(port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        from flowy_gcp.gcs_store import GcsArtifactStore
        from gcsfs.core import GCSFileSystem

        size = args.size_mb * 1024 * 1024
        data = os.urandom(size)
        chunk = args.chunk_mb * 1024 * 1024
        raw = GCSFileSystem(token="anon", endpoint_url=endpoint, skip_instance_cache=True)
        store = GcsArtifactStore(
            bucket="bench", prefix="flowy", endpoint_url=endpoint, anonymous=True, chunk_size=chunk
        )
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src.bin")
            with open(src, "wb") as f:
                f.write(data)

            def raw_put() -> None:
                raw.put_file(src, "bench/raw/blob.bin", chunksize=chunk)

            def raw_get() -> None:
                raw.cat_file("bench/raw/blob.bin")  # one request, into memory

            uri = store.uri_for("run/step/blob.bin")

            def store_put() -> None:
                view = memoryview(data)
                with store.open_write(uri) as out:
                    for i in range(0, size, 1 << 20):
                        out.write(view[i : i + (1 << 20)])

            def store_get() -> None:
                with store.open_read(uri) as inp:
                    while inp.read(1 << 20):
                        pass

            rows = [
                ("put", *alternate(raw_put, store_put, args.repeat)),
                ("get", *alternate(raw_get, store_get, args.repeat)),
            ]
            assert store.read_bytes(uri) == data, "round trip mismatch"
            assert raw.cat_file("bench/raw/blob.bin") == data, "raw round trip mismatch"
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)

    mb = size / 1e6
    print(
        f"\n{args.size_mb} MiB artifact, gcp-storage-emulator on loopback (in memory), "
        f"median of {args.repeat}, A B A B (pieces {args.chunk_mb} MiB)\n"
    )
    print(f"{'op':<5}{'raw gcsfs MB/s':>16}{'flowy gcs MB/s':>16}{'ratio':>8}{'target':>8}")
    ok = True
    for op, raw_t, store_t in rows:
        ratio = raw_t / store_t
        ok &= ratio >= 0.5
        print(f"{op:<5}{mb / raw_t:>16.1f}{mb / store_t:>16.1f}{ratio:>7.0%}{'>=50%':>8}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
