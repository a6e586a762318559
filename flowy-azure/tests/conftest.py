"""Fixtures: one Azurite blob service per session on 127.0.0.1, real Azure SDK clients.

Azurite comes from npm (see :mod:`flowy_azure.azurite` for where it is looked
for and the install command). Without it the tests that need it are skipped
on a developer's machine with that command, and fail under CI (``CI`` set),
where a missing install step must not pass as green.
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

AZURE_VARS = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Any]:
    """Azurite for the whole session; its account key in AZURE_STORAGE_ACCOUNT_KEY."""
    from flowy_azure.azurite import Azurite, AzuriteNotFound

    try:
        server = Azurite()
    except AzuriteNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    saved = {name: os.environ.pop(name, None) for name in AZURE_VARS}
    os.environ["AZURE_STORAGE_ACCOUNT_KEY"] = server.key
    with server:
        yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def blob_service(azurite: Any) -> Iterator[Any]:
    """A synchronous client of Azurite, for setting up and inspecting containers."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient(
        azurite.endpoint, credential={"account_name": azurite.account, "account_key": azurite.key}
    )
    yield client
    client.close()


@pytest.fixture
def container(blob_service: Any) -> str:
    """A fresh, empty container for one test."""
    name = f"flowy-test-{uuid.uuid4().hex[:12]}"
    blob_service.create_container(name)
    return name


@pytest.fixture
def store_options(azurite: Any, container: str) -> dict[str, Any]:
    """Options for an azure_blob store on Azurite: small blocks so block paths run on small data."""
    return {
        "account_name": azurite.account,
        "container": container,
        "prefix": "artifacts",
        "endpoint_url": azurite.endpoint,
        "single_put_threshold": 2 * 1024 * 1024,
        "chunk_size": 1024 * 1024,
        "concurrency": 4,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
        "retries": 2,
    }


@pytest.fixture
def store(store_options: dict[str, Any]) -> Any:
    from flowy_azure.blob_store import AzureBlobArtifactStore

    return AzureBlobArtifactStore(**store_options)


@pytest.fixture(scope="session")
def uncommitted(blob_service: Any) -> Any:
    """``uncommitted(container)``: names of blobs that hold only staged, uncommitted blocks."""

    def names(container: str) -> list[str]:
        client = blob_service.get_container_client(container)
        committed = {b.name for b in client.list_blobs()}
        everything = {b.name for b in client.list_blobs(include=["uncommittedblobs"])}
        return sorted(everything - committed)

    return names


@pytest.fixture
def azure_plugins() -> Any:
    """First-party plugins plus flowy-azure, registered explicitly (nothing autoloaded)."""
    from flowy.kernel.plugins import create_plugin_manager

    modules = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-materializers", "flowy_materializers.plugin"),
        ("flowy-azure", "flowy_azure.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in modules],
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder; FLOWY_HOME is a temp folder too."""
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root
