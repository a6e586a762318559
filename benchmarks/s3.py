"""S3 benchmark (issue 7): a 200 MB artifact to and from moto S3 on loopback.

Compares, in the same run and against the same moto server:

* raw s3fs ``put_file`` / ``get_file`` (s3fs's own concurrent multipart/ranges);
* the flowy ``s3`` artifact store's ``open_write`` / ``open_read``, streaming the
  bytes in 1 MiB writes and reads as a materializer does (the core's BLAKE3
  is not included: it is the same for every store).

Target: the store reaches at least 50% of raw s3fs throughput each way.
Run: ``python benchmarks/s3.py [--size-mb 200] [--repeat 3]`` (needs flowy-aws
and moto installed: ``pip install -e './flowy-aws[test]'``).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-mb", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    for key, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ.setdefault(key, value)
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3
        import s3fs
        from flowy_aws.s3_store import S3ArtifactStore

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        size = args.size_mb * 1024 * 1024
        data = os.urandom(size)
        chunk = args.chunk_mb * 1024 * 1024
        raw = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
        store = S3ArtifactStore(
            bucket="bench",
            prefix="flowy",
            region="us-east-1",
            endpoint_url=endpoint,
            chunk_size=chunk,
            multipart_threshold=chunk,
            concurrency=args.concurrency,
        )
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "src.bin"), os.path.join(tmp, "dst.bin")
            with open(src, "wb") as f:
                f.write(data)

            def raw_put() -> None:
                raw.put_file(src, "bench/raw/blob.bin", chunksize=chunk)

            def raw_get() -> None:
                raw.get_file("bench/raw/blob.bin", dst)

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
                ("put", timed(raw_put, args.repeat), timed(store_put, args.repeat)),
                ("get", timed(raw_get, args.repeat), timed(store_get, args.repeat)),
            ]
            assert store.read_bytes(uri) == data, "round trip mismatch"
    finally:
        server.stop()

    mb = size / 1e6
    print(
        f"\n{args.size_mb} MiB artifact, moto S3 on loopback, median of {args.repeat} "
        f"(parts {args.chunk_mb} MiB, concurrency {args.concurrency})\n"
    )
    print(f"{'op':<5}{'raw s3fs MB/s':>15}{'flowy s3 MB/s':>15}{'ratio':>8}{'target':>8}")
    ok = True
    for op, raw_t, store_t in rows:
        ratio = raw_t / store_t
        ok &= ratio >= 0.5
        print(f"{op:<5}{mb / raw_t:>15.1f}{mb / store_t:>15.1f}{ratio:>7.0%}{'>=50%':>8}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
