"""Fixtures: one moto server per session on 127.0.0.1, real boto3/s3fs clients against it.

moto runs in this process (``ThreadedMotoServer``), so tests can reach its
backends to play SageMaker's part (move a training job to InProgress, run its
container command, mark it Failed or Stopped) the way the real service would.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server for the whole session; dummy credentials in the environment."""
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A fresh, empty bucket for one test."""
    name = f"flowy-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store_options(moto_endpoint: str, bucket: str) -> dict[str, Any]:
    """Options for an s3 store on moto: small parts so multipart paths run on small data."""
    return {
        "bucket": bucket,
        "prefix": "artifacts",
        "region": REGION,
        "endpoint_url": moto_endpoint,
        "multipart_threshold": 5 * 1024 * 1024,
        "chunk_size": 5 * 1024 * 1024,
        "concurrency": 4,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
        "retries": 2,
    }


@pytest.fixture
def store(store_options: dict[str, Any]) -> Any:
    from flowy_aws.s3_store import S3ArtifactStore

    return S3ArtifactStore(**store_options)


@pytest.fixture(scope="session")
def dangling_uploads(s3_client: Any) -> Any:
    """``dangling_uploads(bucket)``: multipart uploads S3 still holds parts for (must be none)."""

    def list_uploads(bucket: str) -> list[dict[str, Any]]:
        return list(s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    return list_uploads


@pytest.fixture
def aws_plugins() -> Any:
    """First-party plugins plus flowy-aws, registered explicitly (nothing autoloaded)."""
    from flowy.kernel.plugins import create_plugin_manager

    modules = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-materializers", "flowy_materializers.plugin"),
        ("flowy-aws", "flowy_aws.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in modules],
    )


@pytest.fixture
def project(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh project folder; FLOWY_HOME is a temp folder too."""
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root
