"""Each way S3 can be unreachable ends in a clear error within the configured timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_aws.errors import AwsBucketError, AwsConnectionError, AwsCredentialsError
from flowy_aws.s3_store import S3ArtifactStore, S3Options


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


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


def test_missing_credentials(store_options: dict[str, Any], no_credentials: None) -> None:
    started = time.monotonic()
    with pytest.raises(AwsCredentialsError, match="no AWS credentials were found") as info:
        S3ArtifactStore(**store_options)
    assert "AWS_PROFILE" in str(info.value) and "never hold credentials" in str(info.value)
    assert time.monotonic() - started < 10


def test_missing_bucket(store_options: dict[str, Any]) -> None:
    with pytest.raises(AwsBucketError, match="does not exist") as info:
        S3ArtifactStore(**{**store_options, "bucket": "no-such-bucket-here"})
    assert "aws s3 mb s3://no-such-bucket-here" in str(info.value)


def test_wrong_region(store_options: dict[str, Any]) -> None:
    with pytest.raises(AwsBucketError, match="is in region 'us-east-1'") as info:
        S3ArtifactStore(**{**store_options, "region": "eu-west-1"})
    assert "region=us-east-1" in str(info.value)


def test_endpoint_that_does_not_answer(store_options: dict[str, Any], silent_endpoint: str) -> None:
    options = {
        **store_options,
        "endpoint_url": silent_endpoint,
        "connect_timeout": 0.5,
        "read_timeout": 0.5,
        "retries": 1,
    }
    started = time.monotonic()
    with pytest.raises(AwsConnectionError, match="did not answer") as info:
        S3ArtifactStore(**options)
    elapsed = time.monotonic() - started
    # two attempts of 0.5 s each plus standard-mode backoff (at most 2 s after the first)
    assert elapsed < 4.5, elapsed
    assert "2 attempt(s)" in str(info.value) and "read_timeout=0.5s" in str(info.value)


def test_endpoint_that_refuses(store_options: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    started = time.monotonic()
    with pytest.raises(AwsConnectionError):
        S3ArtifactStore(
            **{**store_options, "endpoint_url": f"http://127.0.0.1:{port}", "retries": 0}
        )
    assert time.monotonic() - started < 5


def test_errors_while_writing_are_flowy_errors(
    store_options: dict[str, Any], s3_client: Any
) -> None:
    store = S3ArtifactStore(**store_options)
    s3_client.delete_bucket(Bucket=store.bucket)
    with pytest.raises(FlowyError, match="does not exist"):
        store.write_bytes(store.uri_for("x"), b"data")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"bucket": "ok-bucket", "chunk_size": 1024}, "chunk_size"),
        ({"bucket": "ok-bucket", "sse": "rot13"}, "sse"),
        ({"bucket": "ok-bucket", "sse_kms_key_id": "k"}, "sse_kms_key_id"),
        ({"bucket": "ok-bucket", "aws_secret_access_key": "x"}, "aws_secret_access_key"),
    ],
)
def test_options_are_validated(options: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        S3Options(**options)
    assert S3Options(bucket="ok-bucket").multipart_threshold == 8 * 1024 * 1024
