"""Azure Blob benchmark (issue 17): a 200 MB artifact to and from Azurite on loopback.

Compares, in the same run and against the same Azurite process:

* raw adlfs ``put_file`` / ``get_file`` (adlfs's own concurrent blocks/ranges,
  its defaults);
* the flowy ``azure_blob`` artifact store's ``open_write`` / ``open_read``,
  streaming the bytes in 1 MiB writes and reads as a materializer does (the
  core's BLAKE3 is not included: it is the same for every store).

Each round runs raw then store (A B), repeated ``--repeat`` times (A B A B ...),
and the medians are compared. Target: the store reaches at least 50% of raw
adlfs throughput each way.

Run: ``python benchmarks/azure_blob.py [--size-mb 200] [--repeat 3]``. Needs
flowy-azure installed and Azurite from npm
(``npm install --prefix flowy-azure/.azurite azurite@3.37.0``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable


def timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def alternate(a: Callable[[], None], b: Callable[[], None], repeat: int) -> tuple[float, float]:
    """A B A B ...: the medians of ``a``'s and ``b``'s times."""
    times_a, times_b = [], []
    for _ in range(repeat):
        times_a.append(timed(a))
        times_b.append(timed(b))
    return statistics.median(times_a), statistics.median(times_b)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-mb", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from adlfs import AzureBlobFileSystem
    from azure.storage.blob import BlobServiceClient
    from flowy_azure.azurite import Azurite
    from flowy_azure.blob_store import AzureBlobArtifactStore

    size = args.size_mb * 1024 * 1024
    data = os.urandom(size)
    chunk = args.chunk_mb * 1024 * 1024
    with Azurite() as azurite, tempfile.TemporaryDirectory() as tmp:
        os.environ["AZURE_STORAGE_ACCOUNT_KEY"] = azurite.key
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(
            "bench"
        )
        raw = AzureBlobFileSystem(
            connection_string=azurite.connection_string, skip_instance_cache=True
        )
        store = AzureBlobArtifactStore(
            account_name=azurite.account,
            container="bench",
            prefix="flowy",
            endpoint_url=azurite.endpoint,
            chunk_size=chunk,
            single_put_threshold=chunk,
            concurrency=args.concurrency,
        )
        src, dst = os.path.join(tmp, "src.bin"), os.path.join(tmp, "dst.bin")
        with open(src, "wb") as f:
            f.write(data)

        def raw_put() -> None:
            raw.put_file(src, "bench/raw/blob.bin", overwrite=True)

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
            ("put", *alternate(raw_put, store_put, args.repeat)),
            ("get", *alternate(raw_get, store_get, args.repeat)),
        ]
        assert store.read_bytes(uri) == data, "round trip mismatch"
        with open(dst, "rb") as f:
            assert f.read() == data, "raw round trip mismatch"

    mb = size / 1e6
    print(
        f"\n{args.size_mb} MiB artifact, Azurite on loopback, A B alternating, median of "
        f"{args.repeat} (blocks {args.chunk_mb} MiB, concurrency {args.concurrency})\n"
    )
    print(f"{'op':<5}{'raw adlfs MB/s':>16}{'azure_blob MB/s':>17}{'ratio':>8}{'target':>8}")
    ok = True
    for op, raw_t, store_t in rows:
        ratio = raw_t / store_t
        ok &= ratio >= 0.5
        print(f"{op:<5}{mb / raw_t:>16.1f}{mb / store_t:>17.1f}{ratio:>7.0%}{'>=50%':>8}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
