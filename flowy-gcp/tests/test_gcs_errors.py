"""Each way GCS can be unreachable or refuse ends in a clear error within the configured timeout.

Missing bucket, missing or rejected credentials, an endpoint that is down or
silent; 5xx answers injected between the store and the emulator (retried,
then a clear error, never a half object); 401/403 answers.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_gcp.errors import (
    GcpBucketError,
    GcpConnectionError,
    GcpCredentialsError,
)
from flowy_gcp.gcs_store import GcsArtifactStore, GcsOptions

from .gcsproxy import FaultProxy, is_download, is_upload

pytestmark = pytest.mark.slow

#: Bound on how long a failing call may take: a guard against a hang (retries with long
#: backoff, no timeout), far above any configured timeout here, so a loaded machine passes.
#: What was waited for is asserted from the error itself (attempts, the timeout named).
HANG_GUARD = 60


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def proxy(gcs_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(gcs_endpoint)
    yield proxy
    proxy.close()


@pytest.fixture
def token_server() -> Iterator[str]:
    """An OAuth token endpoint that rejects every refresh, as Google does a revoked grant."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {"error": "invalid_grant", "error_description": "Token has been revoked."}
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def test_missing_bucket(store_options: dict[str, Any]) -> None:
    with pytest.raises(GcpBucketError, match="does not exist") as info:
        GcsArtifactStore(**{**store_options, "bucket": "no-such-bucket-here"})
    assert "gcloud storage buckets create gs://no-such-bucket-here" in str(info.value)


def test_no_credentials(
    store_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    started = time.monotonic()
    with pytest.raises(GcpCredentialsError, match="no usable Google credentials") as info:
        GcsArtifactStore(**{**store_options, "anonymous": False})
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(info.value)
    assert "Stack files never hold credentials" in str(info.value)
    assert time.monotonic() - started < HANG_GUARD


def test_rejected_credentials(
    store_options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    token_server: str,
) -> None:
    """A service-account key Google refuses (deleted key): a credentials error, no retry."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key = tmp_path / "key.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "flowy-test",
                "private_key_id": "deleted",
                "private_key": pem,
                "client_email": "flowy@flowy-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_server,
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(GcpCredentialsError, match="Invalid Credentials, 401") as info:
        GcsArtifactStore(**{**store_options, "anonymous": False})
    assert "gcloud auth application-default login" in str(info.value)


def test_endpoint_that_does_not_answer(store_options: dict[str, Any], silent_endpoint: str) -> None:
    options = {
        **store_options,
        "endpoint_url": silent_endpoint,
        "connect_timeout": 0.5,
        "read_timeout": 0.5,
        "retries": 1,
    }
    started = time.monotonic()
    with pytest.raises(GcpConnectionError, match="did not answer") as info:
        GcsArtifactStore(**options)
    elapsed = time.monotonic() - started
    # two attempts of 0.5 s each plus one backoff (at most 0.25 s); generous for a loaded box
    assert elapsed < HANG_GUARD, elapsed
    assert "2 attempt(s)" in str(info.value) and "read_timeout=0.5s" in str(info.value)


def test_endpoint_that_is_down(store_options: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with pytest.raises(GcpConnectionError, match=f"127.0.0.1:{port} did not answer"):
        GcsArtifactStore(**{**store_options, "endpoint_url": f"http://127.0.0.1:{port}"})
    assert time.monotonic() - started < HANG_GUARD


def test_a_bucket_deleted_under_the_store(store_options: dict[str, Any], raw_fs: Any) -> None:
    store = GcsArtifactStore(**store_options)
    raw_fs.rmdir(store.bucket)
    with pytest.raises(FlowyError, match="does not exist"):
        store.write_bytes(store.uri_for("x"), b"data")


def test_transient_5xx_on_uploads_is_retried(
    store_options: dict[str, Any], proxy: FaultProxy
) -> None:
    store = GcsArtifactStore(**{**store_options, "endpoint_url": proxy.url, "retries": 3})
    proxy.fail(is_upload, times=2, status=503)
    data = os.urandom(3 * 1024 * 1024)
    uri = store.uri_for("run/step/retried.bin")
    store.write_bytes(uri, data)
    assert proxy.count("fail 503") == 2
    assert store.read_bytes(uri) == data


def test_persistent_5xx_fails_clearly_and_leaves_nothing(
    store_options: dict[str, Any], proxy: FaultProxy
) -> None:
    store = GcsArtifactStore(**{**store_options, "endpoint_url": proxy.url, "retries": 1})
    proxy.fail(is_upload, times=1000, status=500)
    uri = store.uri_for("run/step/never.bin")
    with pytest.raises(FlowyError, match="injected 500"):
        store.write_bytes(uri, os.urandom(2 * 1024 * 1024 + 5))
    assert proxy.count("fail 500") == 2  # the first try and one retry
    assert not store.exists(uri)


def test_5xx_while_reading_is_retried(store_options: dict[str, Any], proxy: FaultProxy) -> None:
    store = GcsArtifactStore(**{**store_options, "endpoint_url": proxy.url, "retries": 2})
    uri = store.uri_for("run/step/read.bin")
    store.write_bytes(uri, b"payload")
    proxy.fail(is_download, times=2, status=503)
    assert store.read_bytes(uri) == b"payload"
    assert proxy.count("fail 503") == 2


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (403, GcpBucketError, "access to bucket"),
        (401, GcpCredentialsError, "no usable Google credentials"),
    ],
)
def test_refusals_are_not_retried_and_say_what_to_do(
    store_options: dict[str, Any], proxy: FaultProxy, status: int, error: type, words: str
) -> None:
    store = GcsArtifactStore(**{**store_options, "endpoint_url": proxy.url, "retries": 3})
    proxy.fail(is_upload, times=1000, status=status)
    with pytest.raises(error, match=words):
        store.write_bytes(store.uri_for("run/step/refused.bin"), b"x")
    assert proxy.count(f"fail {status}") == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"bucket": "ok-bucket", "chunk_size": 1000}, "chunk_size"),
        ({"bucket": "ok-bucket", "chunk_size": 300 * 1024}, "chunk_size"),
        ({"bucket": "ok-bucket", "token": "x"}, "token"),
    ],
)
def test_options_are_validated(options: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        GcsOptions(**options)
    assert GcsOptions(bucket="ok-bucket").chunk_size == 16 * 1024 * 1024
