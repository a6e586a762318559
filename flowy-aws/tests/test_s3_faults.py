"""Fault injection between the s3 store and moto: 5xx answers and connections cut mid-upload.

Whatever fails, S3 keeps no multipart upload and no half object, and a
pipeline run records no artifact whose object is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_aws.errors import AwsConnectionError
from flowy_aws.s3_store import S3ArtifactStore

sys.path.insert(0, os.path.dirname(__file__))
from faultproxy import FaultProxy, is_complete, is_part_upload, is_put_object

BIG = 12 * 1024 * 1024  # three 5 MiB parts (the last one shorter)


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_endpoint)
    yield proxy
    proxy.close()


def make_store(store_options: dict[str, Any], proxy: FaultProxy, retries: int) -> S3ArtifactStore:
    return S3ArtifactStore(**{**store_options, "endpoint_url": proxy.url, "retries": retries})


def write(store: S3ArtifactStore, uri: str, data: bytes) -> None:
    with store.open_write(uri) as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i : i + (1 << 20)])


def test_transient_5xx_on_parts_is_retried(
    store_options: dict[str, Any], proxy: FaultProxy, dangling_uploads: Any
) -> None:
    store = make_store(store_options, proxy, retries=3)
    proxy.fail(is_part_upload, times=2, status=503)
    data = os.urandom(BIG)
    uri = store.uri_for("run/step/retried.bin")
    write(store, uri, data)
    assert proxy.count("fail 503") == 2
    assert store.read_bytes(uri) == data
    assert dangling_uploads(store.bucket) == []


def test_persistent_5xx_fails_clearly_and_leaves_nothing(
    store_options: dict[str, Any], proxy: FaultProxy, dangling_uploads: Any
) -> None:
    store = make_store(store_options, proxy, retries=1)
    proxy.fail(is_part_upload, times=1000, status=500, code="InternalError")
    uri = store.uri_for("run/step/failed.bin")
    with pytest.raises(AwsConnectionError, match="InternalError"):
        write(store, uri, os.urandom(BIG))
    proxy.clear()
    assert not store.exists(uri)
    assert dangling_uploads(store.bucket) == []


def test_5xx_on_complete_aborts(
    store_options: dict[str, Any], proxy: FaultProxy, dangling_uploads: Any
) -> None:
    store = make_store(store_options, proxy, retries=0)
    proxy.fail(is_complete, times=1000)
    uri = store.uri_for("run/step/never-completed.bin")
    with pytest.raises(FlowyError, match="complete the multipart upload"):
        write(store, uri, os.urandom(BIG))
    proxy.clear()
    assert not store.exists(uri)
    assert dangling_uploads(store.bucket) == []


def test_connection_dropped_mid_part_every_time(
    store_options: dict[str, Any], proxy: FaultProxy, dangling_uploads: Any
) -> None:
    store = make_store(store_options, proxy, retries=1)
    proxy.drop(is_part_upload, times=1000, after_bytes=1 << 20)
    uri = store.uri_for("run/step/dropped.bin")
    with pytest.raises(AwsConnectionError, match="did not answer"):
        write(store, uri, os.urandom(BIG))
    assert proxy.count("drop") >= 2
    proxy.clear()
    assert not store.exists(uri)
    assert dangling_uploads(store.bucket) == []


def test_connection_dropped_mid_part_is_retried(
    store_options: dict[str, Any], proxy: FaultProxy, dangling_uploads: Any
) -> None:
    store = make_store(store_options, proxy, retries=3)
    proxy.drop(is_part_upload, times=2, after_bytes=1 << 20)
    data = os.urandom(BIG)
    uri = store.uri_for("run/step/survived.bin")
    write(store, uri, data)
    assert proxy.count("drop") == 2
    assert store.read_bytes(uri) == data
    assert dangling_uploads(store.bucket) == []


def test_connection_dropped_mid_small_put(store_options: dict[str, Any], proxy: FaultProxy) -> None:
    store = make_store(store_options, proxy, retries=0)
    store.write_bytes(store.uri_for("run/step/old"), b"old")
    proxy.drop(is_put_object, times=1000, after_bytes=100)
    with pytest.raises(FlowyError):
        store.write_bytes(store.uri_for("run/step/old"), b"n" * 100_000)
    proxy.clear()
    assert store.read_bytes(store.uri_for("run/step/old")) == b"old"


PIPELINE = """
import numpy as np
from flowy import Pipeline, step

@step
def small() -> dict:
    return {"ok": True}

@step
def big(small: dict) -> np.ndarray:
    return np.ones(1_600_000)  # 12.8 MB: a multipart upload

pipeline = Pipeline("faulty", [small, big])
"""


def test_pipeline_records_no_artifact_without_its_object(
    project: Path,
    aws_plugins: Any,
    store_options: dict[str, Any],
    proxy: FaultProxy,
    dangling_uploads: Any,
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    opts = {**store_options, "endpoint_url": proxy.url, "retries": 1}
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in opts.items())
    (stacks / "faulty.toml").write_text(
        f'[executor]\ntype = "local"\n[metadata_store]\ntype = "sqlite"\n'
        f'url = "sqlite:///{project}/.flowy/meta.db"\n[artifact_store]\ntype = "s3"\n{lines}\n'
    )
    (project / "faulty.py").write_text(PIPELINE)
    module = load_module(project / "faulty.py")
    proxy.fail(is_part_upload, times=1000)
    result = run_pipeline(module.pipeline, stack="faulty", plugins=aws_plugins, project=project)
    assert result.status == "failed"
    assert result.steps["small"].status == "completed", result.steps["small"].error
    assert result.steps["big"].status == "failed"
    assert "ServiceUnavailable" in (result.steps["big"].error or "")
    proxy.clear()
    resolved = resolve_stack("faulty", aws_plugins, project)
    try:
        artifacts = resolved.metadata_store.list_artifacts(run_id=result.run_id)
        assert [a.name for a in artifacts] == ["small"]
        for ref in artifacts:
            assert resolved.artifact_store.exists(ref.uri)
    finally:
        resolved.close()
    assert dangling_uploads(store_options["bucket"]) == []
