"""Fault injection between the azure_blob store and Azurite: 5xx answers and connections cut
in the middle of a block.

Whatever fails, no blob is committed half-written, an old version stays readable, and a
pipeline run records no artifact whose blob is missing. The proxy is flowy-aws's test
proxy (plain HTTP, one request per connection), loaded from its file: the same faults for
both clouds, one implementation.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import FlowyError
from flowy_azure.blob_store import AzureBlobArtifactStore
from flowy_azure.errors import AzureConnectionError

pytestmark = pytest.mark.slow  # starts Azurite (Node.js)

_PROXY_FILE = Path(__file__).resolve().parents[2] / "flowy-aws" / "tests" / "faultproxy.py"
_spec = importlib.util.spec_from_file_location("flowy_test_faultproxy", _PROXY_FILE)
assert _spec is not None and _spec.loader is not None
faultproxy: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faultproxy)

BIG = 5 * 1024 * 1024 + 300_000  # six 1 MiB blocks (the last one shorter)


def is_put_block(method: str, target: str) -> bool:
    return method == "PUT" and "comp=block&" in target


def is_put_block_list(method: str, target: str) -> bool:
    return method == "PUT" and "comp=blocklist" in target


def is_put_blob(method: str, target: str) -> bool:
    return method == "PUT" and "comp=" not in target and "restype=" not in target


@pytest.fixture
def proxy(azurite: Any) -> Iterator[Any]:
    proxy = faultproxy.FaultProxy(f"http://127.0.0.1:{azurite.port}")
    yield proxy
    proxy.close()


def make_store(store_options: dict[str, Any], proxy: Any, retries: int) -> AzureBlobArtifactStore:
    endpoint = f"{proxy.url}/{store_options['account_name']}"
    return AzureBlobArtifactStore(**{**store_options, "endpoint_url": endpoint, "retries": retries})


def write(store: AzureBlobArtifactStore, uri: str, data: bytes) -> None:
    with store.open_write(uri) as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i : i + (1 << 20)])


def test_transient_5xx_on_blocks_is_retried(store_options: dict[str, Any], proxy: Any) -> None:
    store = make_store(store_options, proxy, retries=3)
    proxy.fail(is_put_block, times=2, status=503)
    data = os.urandom(BIG)
    uri = store.uri_for("run/step/retried.bin")
    write(store, uri, data)
    assert proxy.count("fail 503") == 2
    assert store.read_bytes(uri) == data


def test_persistent_5xx_fails_clearly_and_commits_nothing(
    store_options: dict[str, Any], proxy: Any
) -> None:
    store = make_store(store_options, proxy, retries=1)
    proxy.fail(is_put_block, times=1000, status=500, code="InternalError")
    uri = store.uri_for("run/step/failed.bin")
    with pytest.raises(AzureConnectionError, match="kept failing") as info:
        write(store, uri, os.urandom(BIG))
    assert "upload block" in str(info.value) and "`retries`" in str(info.value)
    proxy.clear()
    assert not store.exists(uri)


def test_5xx_on_the_block_list_keeps_the_old_version(
    store_options: dict[str, Any], proxy: Any
) -> None:
    store = make_store(store_options, proxy, retries=0)
    uri = store.uri_for("run/step/never-committed.bin")
    store.write_bytes(uri, b"old")
    proxy.fail(is_put_block_list, times=1000)
    with pytest.raises(FlowyError, match="commit the block list"):
        write(store, uri, os.urandom(BIG))
    proxy.clear()
    assert store.read_bytes(uri) == b"old"


def test_connection_dropped_mid_block_every_time(store_options: dict[str, Any], proxy: Any) -> None:
    store = make_store(store_options, proxy, retries=1)
    proxy.drop(is_put_block, times=1000, after_bytes=300_000)
    uri = store.uri_for("run/step/dropped.bin")
    with pytest.raises(AzureConnectionError, match="did not answer"):
        write(store, uri, os.urandom(BIG))
    assert proxy.count("drop") >= 2
    proxy.clear()
    assert not store.exists(uri)


def test_connection_dropped_mid_block_is_retried(store_options: dict[str, Any], proxy: Any) -> None:
    store = make_store(store_options, proxy, retries=3)
    proxy.drop(is_put_block, times=2, after_bytes=300_000)
    data = os.urandom(BIG)
    uri = store.uri_for("run/step/survived.bin")
    write(store, uri, data)
    assert proxy.count("drop") == 2
    assert store.read_bytes(uri) == data


def test_connection_dropped_mid_small_put(store_options: dict[str, Any], proxy: Any) -> None:
    store = make_store(store_options, proxy, retries=0)
    store.write_bytes(store.uri_for("run/step/old"), b"old")
    proxy.drop(is_put_blob, times=1000, after_bytes=100)
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
    return np.ones(1_000_000)  # 8 MB: staged blocks

pipeline = Pipeline("faulty", [small, big])
"""


def test_pipeline_records_no_artifact_without_its_blob(
    project: Path, azure_plugins: Any, store_options: dict[str, Any], proxy: Any
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir()
    endpoint = f"{proxy.url}/{store_options['account_name']}"
    opts = {**store_options, "endpoint_url": endpoint, "retries": 1}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in opts.items())
    (stacks / "faulty.toml").write_text(
        f'[executor]\ntype = "local"\n[metadata_store]\ntype = "sqlite"\n'
        f'url = "sqlite:///{project}/.flowy/meta.db"\n[artifact_store]\ntype = "azure_blob"\n'
        f"{lines}\n"
    )
    (project / "faulty.py").write_text(PIPELINE)
    module = load_module(project / "faulty.py")
    proxy.fail(is_put_block, times=1000)
    result = run_pipeline(module.pipeline, stack="faulty", plugins=azure_plugins, project=project)
    assert result.status == "failed"
    assert result.steps["small"].status == "completed", result.steps["small"].error
    assert result.steps["big"].status == "failed"
    assert "ServiceUnavailable" in (result.steps["big"].error or "")
    proxy.clear()
    resolved = resolve_stack("faulty", azure_plugins, project)
    try:
        artifacts = resolved.metadata_store.list_artifacts(run_id=result.run_id)
        assert [a.name for a in artifacts] == ["small"]
        for ref in artifacts:
            assert resolved.artifact_store.exists(ref.uri)
    finally:
        resolved.close()
